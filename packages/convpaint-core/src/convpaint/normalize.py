"""Intensity normalisation of canonical (T, Z, C, Y, X) images.

Modes: ``"none"`` (raw values), ``"image"`` (z-score each channel of each 2-D
plane), ``"stack"`` (z-score each channel over the whole T/Z stack).  RGB
extractors with ``"none"`` get the ImageNet statistics instead: intensities
scaled to [0, 1] by the dtype's range, then (x - mean) / std.
"""

from __future__ import annotations

import math

import numpy as np

MODES = ("none", "image", "stack")
FLOAT32_MAX = float(np.finfo(np.float32).max)
STAT_ROWS = 256  # rows per block of the statistics' sums (fixes their order)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"normalize must be one of {', '.join(MODES)}; got {mode!r}")
    return mode


def check_finite(image: np.ndarray) -> None:
    """Refuse non-numeric, complex and non-finite images (without a full-size temporary)."""
    kind = image.dtype.kind
    if kind == "c":
        raise TypeError(
            f"image is complex-valued ({image.dtype}); pass a real image, e.g. np.abs(image) "
            "for the magnitude or image.real"
        )
    if kind not in "biuf":
        raise TypeError(f"image dtype {image.dtype} is not numeric")
    if kind != "f":
        return
    # values repeat along broadcast (zero-stride) axes: one copy of them is enough
    once = tuple(
        slice(0, 1) if s == 0 else slice(None)
        for s, n in zip(image.strides, image.shape, strict=True)
    )
    if any(not np.isfinite(b).all() for b in _blocks(image[once])):
        bad = sum(int(np.count_nonzero(~np.isfinite(b))) for b in _blocks(image))
        raise ValueError(f"image contains {bad} NaN or infinite values; fill or mask them first")
    if image.dtype.itemsize > 4:  # features are float32: larger values would become inf
        top = max((float(np.abs(b).max()) for b in _blocks(image[once]) if b.size), default=0.0)
        if top > FLOAT32_MAX:
            raise ValueError(
                f"image values up to {top:.3g} are too large to normalise in float32 "
                f"(max {FLOAT32_MAX:.3g}): rescale the image, e.g. divide it by its maximum"
            )


def _blocks(a: np.ndarray, limit: int = 2**24):
    """Views of ``a`` of at most ``limit`` elements (bounded temporaries)."""
    if a.size <= limit:
        yield a
    elif a.ndim == 1:
        for i in range(0, a.size, limit):
            yield a[i : i + limit]
    elif a.size // a.shape[0] > limit:
        for row in a:
            yield from _blocks(row, limit)
    else:
        step = limit // (a.size // a.shape[0])
        for i in range(0, a.shape[0], step):
            yield a[i : i + step]


def intensity_range(dtype: np.dtype) -> float:
    """Full-scale value of ``dtype`` (1.0 for floats)."""
    if np.issubdtype(dtype, np.integer):
        return float(np.iinfo(dtype).max)
    return 1.0


def normalize(
    image: np.ndarray,
    mode: str,
    t: slice = slice(None),
    z: slice = slice(None),
    planes: list[tuple[int, int]] | None = None,
) -> np.ndarray:
    """Return a float32 copy of ``image[t, z]`` ((T, Z, C, Y, X)) normalised by ``mode``;
    with ``planes``, of those (t, z) planes only, as (len(planes), 1, C, Y, X).

    ``"stack"`` statistics always come from the whole image, so a selection is
    normalised exactly as it is within the whole.
    """
    check_mode(mode)
    if planes is not None:
        t_idx, z_idx = (np.array([p[i] for p in planes], np.intp) for i in (0, 1))
        out = image[t_idx, z_idx][:, None].astype(np.float32, copy=True)
    else:
        out = image[t, z].astype(np.float32, copy=True)
    if mode == "none":
        return out
    mean, std = moments(out if mode == "image" else image, mode)
    out -= mean
    out /= std
    return out


def block_rows(n_rows: int) -> list[slice]:
    """The fixed row blocks of a plane over which statistics are summed."""
    return [slice(r, min(r + STAT_ROWS, n_rows)) for r in range(0, n_rows, STAT_ROWS)]


def block_stats(block: np.ndarray) -> tuple[float, float]:
    """(sum, squared deviations from the block's own mean) of a block's float32 values,
    in float64 over a contiguous copy (a fixed order of operations)."""
    x = np.ascontiguousarray(block, dtype=np.float32).astype(np.float64)
    total = float(x.sum())
    x -= total / x.size
    flat = x.reshape(-1)
    return total, float(np.dot(flat, flat))


def moments(image: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-plane (``"image"``) or per-channel (``"stack"``) float32 mean and std of a
    (T, Z, C, Y, X) array from :func:`block_stats` over :func:`block_rows` -- the same
    numbers as the lazy reduction of :mod:`convpaint.lazy` on any chunking."""
    nt, nz, nc, ny, nx = image.shape
    rows = block_rows(ny)
    stats = np.zeros((nt, nz, nc, len(rows), 2))
    for idx in np.ndindex(nt, nz, nc):
        plane = image[idx]
        for k, r in enumerate(rows):
            stats[(*idx, k)] = block_stats(plane[r])
    return combine(stats, mode, ny, nx)


def combine(stats: np.ndarray, mode: str, ny: int, nx: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 (mean, std), broadcastable to (T, Z, C, Y, X), from the per-block
    :func:`block_stats` (T, Z, C, row blocks, 2) of ``ny`` x ``nx`` planes.

    Sums over blocks (and, for ``"stack"``, planes) are exactly rounded
    (``math.fsum``): they do not depend on the order of the blocks.  A constant
    channel gets std 1.
    """
    counts = np.array([(r.stop - r.start) * nx for r in block_rows(ny)], np.float64)
    nt, nz, nc, nb, _ = stats.shape
    if mode == "image":
        groups = stats.reshape(nt * nz * nc, 1, nb, 2)
    else:
        groups = np.moveaxis(stats, 2, 0).reshape(nc, nt * nz, nb, 2)
    n_block = np.broadcast_to(counts, groups.shape[1:3])
    n = float(n_block.sum())
    means, stds = [], []
    for g in groups:
        sums, m2 = g[..., 0], g[..., 1]
        mean = math.fsum(sums.ravel()) / n
        dev = sums / n_block - mean
        var = (math.fsum(m2.ravel()) + math.fsum((n_block * dev * dev).ravel())) / n
        means.append(mean)
        stds.append(math.sqrt(var) if var > 0 else 1.0)
    shape = (nt, nz, nc, 1, 1) if mode == "image" else (1, 1, nc, 1, 1)
    mean, std = np.array(means).reshape(shape), np.array(stds).reshape(shape)
    if not np.isfinite(stats).all():
        raise ValueError("image contains NaN or infinite values; fill or mask them first")
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise ValueError(
            "image values are too large to normalise (their variance overflows float64): "
            "rescale the image, e.g. divide it by its maximum"
        )
    return mean.astype(np.float32), std.astype(np.float32)


def imagenet(plane: np.ndarray, full_scale: float) -> np.ndarray:
    """Apply ImageNet statistics to a raw (3, H, W) or (3, Z, H, W) RGB block."""
    shape = (3,) + (1,) * (plane.ndim - 1)
    x = plane / np.float32(full_scale)
    return (x - IMAGENET_MEAN.reshape(shape)) / IMAGENET_STD.reshape(shape)
