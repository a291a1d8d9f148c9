"""Bounded reading of untrusted ``.npz`` archives (model files), and atomic writing.

Before anything is allocated, the members' uncompressed sizes must fit a budget
proportional to the file's size (no decompression bombs) and every ``.npy``
header must describe exactly the bytes its member holds (no lying shapes).
Object arrays (pickles) are refused.  Any defect raises :class:`ArchiveError`.
:func:`write_npz` writes a temporary file beside the target and renames it, so a
failed write (disk full) leaves neither a partial file nor the temporary one.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np

from .io import publish, temp_beside

MAX_EXPANSION = 100  # uncompressed bytes allowed per byte of file (model files: ~3-10)
MIN_BUDGET = 64 * 2**20


class ArchiveError(ValueError):
    """The archive is corrupt, crafted or larger uncompressed than allowed."""


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of the ``.npz`` archive at ``path``, checked before they are allocated."""
    path = Path(path)
    size = path.stat().st_size
    budget = max(MIN_BUDGET, MAX_EXPANSION * size)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(info.file_size for info in infos)
            if total > budget:
                raise ArchiveError(
                    f"its members uncompress to {total} bytes, more than the {budget} "
                    f"allowed for a {size}-byte file"
                )
            return {_name(info): _read_member(zf, info) for info in infos}
    except ArchiveError:
        raise
    except Exception as exc:  # anything the zip/npy parsers raise on crafted bytes
        raise ArchiveError(f"unreadable archive ({type(exc).__name__}: {exc})") from None


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` as a compressed ``.npz`` to ``path`` atomically.

    An existing file at ``path`` stays as it was until the new one is complete; on
    any failure the temporary file is removed and an ``OSError`` names ``path``.
    """
    path = Path(path)
    fd, tmp = temp_beside(path, ".tmp")
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez_compressed(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            publish(tmp, path)
        except OSError as exc:
            why = exc.strerror or str(exc)
            if exc.errno is None:
                raise OSError(f"cannot write {path}: {why}") from exc
            raise type(exc)(exc.errno, f"cannot write {path}: {why}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _name(info: zipfile.ZipInfo) -> str:
    if not info.filename.endswith(".npy"):
        raise ArchiveError(f"unexpected member {info.filename!r}")
    return info.filename[:-4]


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ArchiveError(f"{info.filename}: unsupported .npy version {version}")
        if dtype.hasobject:
            raise ArchiveError(f"{info.filename}: object arrays (pickles) are not allowed")
        nbytes = math.prod(shape) * dtype.itemsize
        held = info.file_size - f.tell()
        if nbytes != held:
            raise ArchiveError(
                f"{info.filename}: header claims {shape} {dtype} ({nbytes} bytes) but the "
                f"member holds {held}"
            )
        buf = bytearray(nbytes)
        if f.readinto(buf) != nbytes:
            raise ArchiveError(f"{info.filename}: truncated array data")
    arr = np.frombuffer(buf, dtype=dtype)
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
