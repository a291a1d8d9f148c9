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
    image: np.ndarray, mode: str, t: slice = slice(None), z: slice = slice(None)
) -> np.ndarray:
    """Return a float32 copy of ``image[t, z]`` ((T, Z, C, Y, X)) normalised by ``mode``.

    ``"stack"`` statistics always come from the whole image, so a selection is
    normalised exactly as it is within the whole.
    """
    check_mode(mode)
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


def block_sum(block: np.ndarray) -> float:
    """float64 sum of a (rows, X) block's float32 values (a contiguous copy: fixed order)."""
    return float(np.ascontiguousarray(block, dtype=np.float32).sum(dtype=np.float64))


def block_sqdev(block: np.ndarray, mean: float) -> float:
    """float64 sum of squared deviations from ``mean`` of a block's float32 values."""
    d = np.ascontiguousarray(block, dtype=np.float32).astype(np.float64)
    d -= mean
    return float(np.dot(d.ravel(), d.ravel()))


def combine(partials: np.ndarray, mode: str, n_px: int) -> np.ndarray:
    """Mean (float64) from per-(T, Z, C, row block) ``partials``: exactly rounded sums
    (``math.fsum``) over the row blocks, and for ``"stack"`` over all planes too."""
    axes = (3,) if mode == "image" else (0, 1, 3)
    moved = np.moveaxis(partials, axes, tuple(range(-len(axes), 0)))
    lead = moved.shape[: moved.ndim - len(axes)]
    flat = moved.reshape(*lead, -1)
    total = np.array([math.fsum(v) for v in flat.reshape(-1, flat.shape[-1])]).reshape(lead)
    count = n_px if mode == "image" else n_px * partials.shape[0] * partials.shape[1]
    keep = (slice(None),) * 3 if mode == "image" else (None, None, slice(None))
    return (total / count)[keep][..., None, None]


def finish(mean: np.ndarray, sqdev: np.ndarray, mode: str, n_px: int):
    """float32 (mean, std) broadcastable to (T, Z, C, Y, X); a constant channel gets std 1."""
    var = combine(sqdev, mode, n_px)
    std = np.sqrt(var)
    std[std == 0] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def moments(image: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-plane (``"image"``) or per-channel (``"stack"``) float32 mean and std of a
    (T, Z, C, Y, X) array, summed over :func:`block_rows` -- the same numbers as the
    lazy reduction of :mod:`convpaint.lazy` on any chunking."""
    nt, nz, nc, ny, nx = image.shape
    rows = block_rows(ny)
    planes = list(np.ndindex(nt, nz, nc))
    sums = np.zeros((nt, nz, nc, len(rows)))
    for idx in planes:
        for k, r in enumerate(rows):
            sums[(*idx, k)] = block_sum(image[idx][r])
    mean = combine(sums, mode, ny * nx)
    full = np.broadcast_to(mean, (nt, nz, nc, 1, 1))
    sq = np.zeros_like(sums)
    for idx in planes:
        m = float(full[idx][0, 0])
        for k, r in enumerate(rows):
            sq[(*idx, k)] = block_sqdev(image[idx][r], m)
    return finish(mean, sq, mode, ny * nx)


def imagenet(plane: np.ndarray, full_scale: float) -> np.ndarray:
    """Apply ImageNet statistics to a raw (3, H, W) or (3, Z, H, W) RGB block."""
    shape = (3,) + (1,) * (plane.ndim - 1)
    x = plane / np.float32(full_scale)
    return (x - IMAGENET_MEAN.reshape(shape)) / IMAGENET_STD.reshape(shape)
