"""Features of a block kept at their pyramid resolutions: upsampled whole, or at chosen pixels.

Coarse-to-fine prediction classifies a sparse grid and the pixels around class
boundaries, and training needs only the annotated pixels: neither needs every
pixel's upsampled features, which cost more than extracting them (a VGG16
layer at scalings 1, 2, 4 gives 192 values per pixel from 84 computed).
:meth:`FeatureMaps.at` interpolates only the pixels asked for, with the very
arithmetic of :func:`convpaint.pyramid.upsample_into`, so its values equal
those of :meth:`FeatureMaps.dense` bit for bit (tested).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

import numpy as np

from . import jit
from .pyramid import upsample_into

DENSE_FRACTION = 0.3  # without numba, above this fraction of a block's pixels at() upsamples it all


@dataclass(frozen=True)
class Level:
    """One extractor output: ``features`` (C, h, w) at ``factor`` times coarser than pixels;
    output pixel (0, 0) is upsampled pixel (``start``, ``start``)."""

    features: np.ndarray
    factor: int
    start: int


def _crop(lv: Level, shape: tuple[int, int]) -> Level:
    """``lv`` holding only the coarse pixels that an output of ``shape`` (H, W) reads
    (a copy without the block's halo: smaller to cache, same values)."""
    f, k = lv.features, lv.factor
    first = int(_taps(np.array([lv.start]), k, f.shape[-2])[0][0])
    stops = [
        int(_taps(np.array([lv.start + n - 1]), k, size)[1][0]) + 1
        for n, size in zip(shape, f.shape[-2:], strict=True)
    ]
    kept = np.ascontiguousarray(f[..., first : stops[0], first : stops[1]])
    return Level(kept, k, lv.start - first * k)


class FeatureMaps:
    """Per-pixel features of a (H, W) plane block (or (Z, H, W) volume block), stored as
    coarse levels.  ``shape`` is (F, H, W) (or (F, Z, H, W)), the shape of :meth:`dense`.
    """

    def __init__(self, levels: list[Level], shape: tuple[int, ...]) -> None:
        self.levels = levels
        self.shape = (sum(lv.features.shape[0] for lv in levels), *shape)
        self.ndim = len(self.shape)

    @property
    def nbytes(self) -> int:
        return sum(lv.features.nbytes for lv in self.levels)

    def compact(self) -> FeatureMaps:
        """The same maps without the pixels of the block's halo (before caching them)."""
        return FeatureMaps([_crop(lv, self.shape[-2:]) for lv in self.levels], self.shape[1:])

    def freeze(self) -> None:
        """Make the stored levels read-only (shared by a cache)."""
        for lv in self.levels:
            lv.features.flags.writeable = False

    def dense(self) -> np.ndarray:
        """(F, H, W) float32: every level upsampled into its slot."""
        out = np.empty(self.shape, np.float32)
        first = 0
        for lv in self.levels:
            n = lv.features.shape[0]
            upsample_into(lv.features, lv.factor, (lv.start, lv.start), out[first : first + n])
            first += n
        return out

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(F, n) float32 features of the pixels (``rows[i]``, ``cols[i]``) of a plane;
        equal to ``dense()[:, rows, cols]``."""
        if self.ndim != 3:
            raise ValueError("FeatureMaps.at() takes pixels of a plane, not of a volume")
        rows, cols = np.asarray(rows, np.intp).ravel(), np.asarray(cols, np.intp).ravel()
        gather = _gather_kernel()
        if gather is None:  # the NumPy path reads planar levels (converted once)
            if not all(lv.features.flags.c_contiguous for lv in self.levels):
                self.levels = [
                    Level(np.ascontiguousarray(lv.features), lv.factor, lv.start)
                    for lv in self.levels
                ]
            if rows.size > DENSE_FRACTION * self.shape[1] * self.shape[2]:
                dense = self.dense().reshape(self.shape[0], -1)
                return np.take(dense, rows * self.shape[2] + cols, 1)
        out = np.empty((self.shape[0], rows.size), np.float32)
        first = 0
        for lv in self.levels:
            f, k = lv.features, lv.factor
            dst = out[first : first + f.shape[0]]
            first += f.shape[0]
            y0, y1, wy = _taps(rows + lv.start, k, f.shape[-2])
            x0, x1, wx = _taps(cols + lv.start, k, f.shape[-1])
            if gather is not None:
                gather(f, y0, y1, wy, x0, x1, wx, k == 1, dst)
                continue
            width = f.shape[-1]
            flat = f.reshape(f.shape[0], -1)
            if k == 1:
                np.take(flat, y0 * width + x0, axis=1, out=dst)
                continue
            y0, y1 = y0 * width, y1 * width
            # along Y first, as upsample_into
            left = _lerp(np.take(flat, y0 + x0, 1), np.take(flat, y1 + x0, 1), wy)
            right = _lerp(np.take(flat, y0 + x1, 1), np.take(flat, y1 + x1, 1), wy)
            dst[...] = _lerp(left, right, wx)
        return out


def _gather(f, y0, y1, wy, x0, x1, wx, direct, out):  # pragma: no cover (numba)
    """out[c, i] = linear upsampling of f[c] at pixel i, the arithmetic of upsample_into.

    Any memory layout of ``f``: channels-last levels (e.g. VGG16's) are read pixel by
    pixel, planar ones channel by channel.
    """
    n, channels = y0.size, f.shape[0]
    if f.strides[0] < f.strides[2]:  # channels last
        for i in range(n):
            for c in range(channels):
                out[c, i] = _one(f, c, y0[i], y1[i], wy[i], x0[i], x1[i], wx[i], direct)
    else:
        for c in range(channels):
            for i in range(n):
                out[c, i] = _one(f, c, y0[i], y1[i], wy[i], x0[i], x1[i], wx[i], direct)


def _one(f, c, y0, y1, wy, x0, x1, wx, direct):  # pragma: no cover (numba)
    if direct:
        return f[c, y0, x0]
    a, b = f[c, y0, x0], f[c, y1, x0]
    left = (b - a) * wy + a
    a, b = f[c, y0, x1], f[c, y1, x1]
    right = (b - a) * wy + a
    return (right - left) * wx + left


_COMPILING = threading.Lock()  # tiles in threads ask for the kernel at once on first use


def _gather_kernel():
    with _COMPILING:
        return _compiled_gather()


@cache
def _compiled_gather():
    global _one  # numba inlines the compiled helper where _gather calls it
    one = jit.compile(_one)
    if one is None:
        return None
    _one = one
    return jit.compile(_gather)


def warm_up() -> None:
    """:meth:`FeatureMaps.at` on tiny frozen levels, planar and channels-last (the layouts
    of the extractors' outputs), at factors 1 and 2: its kernel for the pipeline's types."""
    planar = np.zeros((2, 4, 4), np.float32)
    last = np.zeros((4, 4, 2), np.float32).transpose(2, 0, 1)
    for f in (planar, last):
        f.flags.writeable = False
        for factor in (1, 2):
            FeatureMaps([Level(f, factor, 0)], (4, 4)).at(np.array([0, 3]), np.array([1, 2]))


jit.register("feature gather", warm_up)


def _taps(pos: np.ndarray, factor: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Low and high source indices and the high weight of linear upsampling at ``pos``."""
    phase = (pos % factor + 0.5) / factor - 0.5
    off = np.floor(phase)
    weight = (phase - off).astype(np.float32)
    lo = pos // factor + off.astype(np.intp)
    return np.clip(lo, 0, n - 1), np.clip(lo + 1, 0, n - 1), weight


def _lerp(lo: np.ndarray, hi: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``(hi - lo) * weight + lo`` in float32, the operation order of upsample_into."""
    out = np.subtract(hi, lo)
    out *= weight
    out += lo
    return out
