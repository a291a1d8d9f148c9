"""Reading and writing images (tif, png/jpg, npy); writes are atomic."""

from __future__ import annotations

import os
import tempfile
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
    fd, tmp = temp_beside(path, suffix)
    os.close(fd)
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(tmp, data)
        elif suffix == ".npy":
            np.save(tmp, data, allow_pickle=False)
        else:
            import imageio.v3 as iio

            if data.dtype.kind == "f" or data.ndim not in (2, 3):
                raise ValueError(
                    f"{path}: PNG holds 2-D integer images; use .tif or .npy for shape {data.shape} {data.dtype}"
                )
            iio.imwrite(tmp, data, extension=".png")
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
