"""Reading and writing images (tif, png/jpg, npy); writes are atomic.

Reads check first what a file claims: a TIFF whose tags promise more tiles or strips
than it holds (truncated or crafted) is refused, and so is one, or an ``.npy``, whose
pixels would not fit in the memory available.  Writes go to a temporary file beside
the target, renamed over it at the end and removed on any error; a failed write
(disk full, ...) raises an ``OSError`` that names the file being written.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

READABLE = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".npy")
WRITABLE = (".tif", ".tiff", ".png", ".npy")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file into a NumPy array (no pickle for .npy)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READABLE:
        raise ValueError(f"{path}: unsupported file type {suffix!r} (use {', '.join(READABLE)})")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if suffix in (".tif", ".tiff"):
        check_tiff(path, in_memory=True)
    elif suffix == ".npy":
        _check_npy(path)
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            data = tifffile.imread(path)
        elif suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        else:
            import imageio.v3 as iio

            data = np.asarray(iio.imread(path))
    except Exception as exc:
        raise ValueError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from None
    if data.size == 0:
        raise ValueError(f"{path}: cannot read image (no pixel data, shape {data.shape})")
    return data


def check_tiff(path: str | os.PathLike, level: int = 0, in_memory: bool = False) -> None:
    """Refuse a TIFF whose tags claim more tiles/strips than it holds or that point past
    its end (``ValueError``), and with ``in_memory`` one whose pixels do not fit in the
    memory available (``InsufficientMemoryError``).  Reads only the tags."""
    import tifffile

    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise ValueError("no image data")
            series = tif.series[0]
            levels = series.levels
            shape, dtype = levels[min(level, len(levels) - 1)].shape, series.dtype
            size = tif.filehandle.size
            for lv in levels:
                for page in lv.pages:
                    if page is not None:
                        _check_page(page, size)
    except ValueError as exc:
        raise ValueError(f"{path}: cannot read image ({exc})") from None
    except Exception as exc:
        raise ValueError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from None
    if in_memory:
        _check_fits(path, shape, dtype, "write a .ome.zarr output to read it lazily")


def _check_page(page, file_size: int) -> None:
    key = page.keyframe
    want = math.prod(key.chunked)
    offsets, counts = page.dataoffsets, page.databytecounts
    kind = "tiles" if key.is_tiled else "strips"
    shape = " x ".join(str(n) for n in key.shape)
    if len(offsets) != want or len(counts) != want:
        raise ValueError(
            f"its tags claim {shape} pixels in {want} {kind}, but it holds {len(offsets)}: "
            "a truncated or crafted TIFF"
        )
    end = max((int(o) + int(n) for o, n in zip(offsets, counts, strict=True)), default=0)
    if end > file_size:
        raise ValueError(
            f"its {kind} reach byte {end} but the file has {file_size} bytes: a truncated TIFF"
        )


def _check_npy(path: Path) -> None:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception:  # reported by the read itself
        return
    _check_fits(path, arr.shape, arr.dtype, "use a zarr input (read lazily)")


def _check_fits(path: Path, shape: tuple[int, ...], dtype, hint: str) -> None:
    from .memory import InsufficientMemoryError, available_bytes

    need = math.prod(shape) * np.dtype(dtype).itemsize
    avail = available_bytes()
    if avail is not None and need > avail:
        raise InsufficientMemoryError(
            f"{path}: cannot read image: its {' x '.join(map(str, shape))} {np.dtype(dtype)} "
            f"pixels take {human_bytes(need)} of memory, more than the {human_bytes(avail)} "
            f"available; {hint}"
        )


def human_bytes(n: float) -> str:
    """``n`` bytes as ``1.5 GiB`` / ``12.0 MiB``."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**27 else f"{n / 2**20:.1f} MiB"


def write_error(path: str | os.PathLike, exc: OSError, doing: str = "") -> OSError:
    """``exc`` as an ``OSError`` of the same type whose message names ``path`` (prefixed
    ``cannot write PATH:``, or ``doing:`` when given)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno is None and "requested and" in reason and "written" in reason:
        reason += " (fewer bytes written than requested: is the disk full?)"
    if str(path) in reason:
        return exc
    message = f"{doing or f'cannot write {path}'}: {reason}"
    try:
        return type(exc)(exc.errno or errno.EIO, message)
    except Exception:  # a subclass with another signature
        return OSError(exc.errno or errno.EIO, message)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yield a temporary file name beside ``path``; on success give it the mode a new file
    would get and rename it to ``path``; on any error remove it (an ``OSError`` is raised
    again naming ``path``).  ``path`` is never left half-written."""
    path = Path(path)
    fd, tmp = temp_beside(path, suffix)
    os.close(fd)
    try:
        yield tmp
        publish(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (thread-safe)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Give a ``mkstemp`` file (mode 0600) the mode a new file would get, then rename it."""
    os.chmod(tmp, 0o666 & ~current_umask())
    os.replace(tmp, path)


def temp_beside(path: Path, suffix: str) -> tuple[int, str]:
    """``mkstemp`` in ``path``'s folder (created if needed); errors name ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    except FileExistsError as exc:  # a parent "folder" is a file
        raise NotADirectoryError(
            exc.errno, f"cannot write {path}: {exc.filename} is a file, not a folder"
        ) from None
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write {path}: {exc.strerror}") from None


def write_image(path: str | os.PathLike, data: np.ndarray) -> Path:
    """Write ``data`` to ``path`` via a temporary file, so no half-written output remains."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE:
        raise ValueError(f"{path}: unsupported output type {suffix!r} (use {', '.join(WRITABLE)})")
    data = np.asarray(data)
    if suffix == ".png" and (data.dtype.kind == "f" or data.ndim not in (2, 3)):
        raise ValueError(
            f"{path}: PNG holds 2-D integer images; use .tif or .npy for shape {data.shape} "
            f"{data.dtype}"
        )
    with atomic_write(path, suffix) as tmp:
        if suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(tmp, data)
        elif suffix == ".npy":
            np.save(tmp, data, allow_pickle=False)
        else:
            import imageio.v3 as iio

            iio.imwrite(tmp, data, extension=".png")
    return path
