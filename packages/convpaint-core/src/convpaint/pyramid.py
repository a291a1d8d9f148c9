"""The multi-scale pyramid: downscale, extract, bring back to pixel resolution.

Both resampling steps are local and translation-equivariant on an integer
grid (block means down, fixed-weight linear interpolation up), so a tile
whose origin is a multiple of the scale factor gives exactly the same values
as the full image -- the basis of tiled == untiled.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def downscale(plane: np.ndarray, factor: int) -> np.ndarray:
    """Block-mean downscaling of the last two axes by an integer ``factor``."""
    if factor == 1:
        return plane
    *lead, h, w = plane.shape
    if h % factor or w % factor:
        raise ValueError(f"shape {(h, w)} is not divisible by {factor}")
    blocks = plane.reshape(*lead, h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(-3, -1), dtype=np.float32)


@lru_cache(maxsize=64)
def _linear_taps(n_in: int, factor: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights of linear upsampling by ``factor`` (half-pixel centres)."""
    phase = (np.arange(factor) + 0.5) / factor - 0.5  # offset of each output phase
    lo_off = np.floor(phase).astype(np.int64)
    w_hi = (phase - lo_off).astype(np.float32)
    idx = np.arange(n_in)[:, None]
    lo = np.clip(idx + lo_off[None, :], 0, n_in - 1).ravel()
    hi = np.clip(idx + lo_off[None, :] + 1, 0, n_in - 1).ravel()
    w = np.tile(w_hi, n_in)
    return lo, hi, w


def _upsample_axis(arr: np.ndarray, factor: int, axis: int) -> np.ndarray:
    lo, hi, w = _linear_taps(arr.shape[axis], factor)
    shape = [1] * arr.ndim
    shape[axis] = -1
    out = np.take(arr, lo, axis=axis)
    delta = np.take(arr, hi, axis=axis)  # in place from here: one temporary only
    delta -= out
    delta *= w.reshape(shape)
    out += delta
    return out


def upsample(features: np.ndarray, factor: int) -> np.ndarray:
    """Linear upsampling of the last two axes by an integer ``factor``."""
    if factor == 1:
        return features
    out = _upsample_axis(np.asarray(features, dtype=np.float32), factor, features.ndim - 2)
    return _upsample_axis(out, factor, features.ndim - 1)


def upsample_into(
    features: np.ndarray, factor: int, start: tuple[int, int], out: np.ndarray
) -> None:
    """``out[...] = upsample(features, factor)[..., y0:y0 + h, x0:x0 + w]`` without the whole.

    ``start`` is (y0, x0), multiples of ``factor``; ``out`` has the crop's shape.
    Only the crop is interpolated, phase by phase with strided slices (the same
    arithmetic as :func:`upsample`, so the same numbers).
    """
    (y0, x0), (h, w) = start, out.shape[-2:]
    if factor == 1:
        out[...] = features[..., y0 : y0 + h, x0 : x0 + w]
        return
    if y0 % factor or x0 % factor:
        raise ValueError(f"crop start {start} is not a multiple of {factor}")
    f = np.asarray(features, dtype=np.float32)
    rows = np.empty((*f.shape[:-2], h, f.shape[-1]), np.float32)
    _interp_axis(f, factor, f.ndim - 2, y0, rows)
    _interp_axis(rows, factor, f.ndim - 1, x0, out)


def _interp_axis(f: np.ndarray, factor: int, axis: int, start: int, out: np.ndarray) -> None:
    """Linear upsampling of ``f`` along ``axis`` into ``out``, from output index ``start``."""
    n_out = out.shape[axis]
    n_cells = -(-n_out // factor)
    i0 = start // factor
    edge = [slice(None)] * f.ndim
    first, last = list(edge), list(edge)
    first[axis], last[axis] = slice(0, 1), slice(-1, None)
    fp = np.concatenate([f[tuple(first)], f, f[tuple(last)]], axis=axis)  # edge-replicated
    at = list(edge)
    for p in range(factor):
        phase = (p + 0.5) / factor - 0.5
        off = int(np.floor(phase))
        weight = np.float32(phase - off)
        lo_start = i0 + off + 1  # +1: the replicated edge
        stop = min(n_cells, -(-(n_out - p) // factor))
        at[axis] = slice(lo_start, lo_start + stop)
        lo = fp[tuple(at)]
        at[axis] = slice(lo_start + 1, lo_start + 1 + stop)
        hi = fp[tuple(at)]
        at[axis] = slice(p, n_out, factor)
        dst = out[tuple(at)]
        np.subtract(hi, lo, out=dst)
        dst *= weight
        dst += lo
