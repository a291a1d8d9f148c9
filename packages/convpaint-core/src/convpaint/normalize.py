"""Intensity normalisation of canonical (T, Z, C, Y, X) images.

Modes: ``"none"`` (raw values), ``"image"`` (z-score each channel of each 2-D
plane), ``"stack"`` (z-score each channel over the whole T/Z stack).  RGB
extractors with ``"none"`` get the ImageNet statistics instead: intensities
scaled to [0, 1] by the dtype's range, then (x - mean) / std.
"""

from __future__ import annotations

import numpy as np

MODES = ("none", "image", "stack")
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
    if mode == "image":
        mean = out.mean(axis=(3, 4), keepdims=True, dtype=np.float64)
        std = out.std(axis=(3, 4), keepdims=True, dtype=np.float64)
    else:
        stats = image if image.dtype == np.float32 else out
        if stats is out and out.shape != image.shape:
            stats = image.astype(np.float32)
        mean = stats.mean(axis=(0, 1, 3, 4), keepdims=True, dtype=np.float64)
        std = stats.std(axis=(0, 1, 3, 4), keepdims=True, dtype=np.float64)
    std[std == 0] = 1.0
    out -= mean.astype(np.float32)
    out /= std.astype(np.float32)
    return out


def imagenet(plane: np.ndarray, full_scale: float) -> np.ndarray:
    """Apply ImageNet statistics to a raw (3, H, W) or (3, Z, H, W) RGB block."""
    shape = (3,) + (1,) * (plane.ndim - 1)
    x = plane / np.float32(full_scale)
    return (x - IMAGENET_MEAN.reshape(shape)) / IMAGENET_STD.reshape(shape)
