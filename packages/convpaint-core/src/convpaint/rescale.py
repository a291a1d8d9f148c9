"""Input scale: featurise at 1/k resolution, bring probabilities back to full size.

Only the last two axes (Y, X) are resampled, plane by plane; canonical images
are (T, Z, C, Y, X) and probabilities (K, T, Z, Y, X), NumPy or dask.

* :func:`downsample_image`: k x k block means (``skimage.transform.downscale_local_mean``
  with a count-correct edge: a partial block at the bottom/right border is the mean
  of the pixels it holds, not darkened by zero padding); output ``ceil(H/k) x ceil(W/k)``
  float32 in the input's intensity scale (a uint8 image stays in 0..255, so the
  ImageNet path keeps ``intensity_range`` of the *original* dtype).
* :func:`downsample_annotations`: per block the most frequent non-zero label (a
  stroke one pixel wide still marks the blocks it crosses).
* :func:`upsample_proba`: bilinear interpolation where full-resolution pixel ``i``
  sits at low-resolution coordinate ``(i + 0.5) / k - 0.5``, clamped at the borders.
  Indices and weights come from integers (``i // k``, ``i % k``), so upsampling a
  window with its :func:`low_window` equals the window of upsampling the whole, bit
  for bit.

Every value is computed elementwise in a fixed order, so NumPy and dask inputs (any
chunking) give identical numbers.
"""

from __future__ import annotations

import operator
from functools import lru_cache
from typing import Any

import numpy as np

from .inputs import as_dask, is_lazy


def check_downsample(k: Any) -> int:
    """``k`` as a positive int (1 = full resolution); anything else is a ValueError."""
    if isinstance(k, (bool, np.bool_)):
        raise ValueError(f"downsample must be a positive integer, got the bool {k!r}")
    if isinstance(k, (float, np.floating)):
        if not float(k).is_integer():
            raise ValueError(f"downsample must be a positive integer, got {k!r}")
        k = int(k)
    try:
        k = operator.index(k)
    except TypeError:
        raise ValueError(f"downsample must be a positive integer, got {k!r}") from None
    if k < 1:
        raise ValueError(f"downsample must be a positive integer, got {k}")
    return int(k)


def low_shape(shape: tuple[int, int], k: int) -> tuple[int, int]:
    """Spatial (Y, X) shape of the downsampled image: ``ceil(H/k), ceil(W/k)``."""
    return (-(-shape[0] // k), -(-shape[1] // k))


# -- downsampling ----------------------------------------------------------------------
def _block_mean(a: np.ndarray, k: int) -> np.ndarray:
    """Block means over k x k of the last two axes; a partial edge block averages the
    pixels it has.  Summed in float64 in a fixed order (row phase, then column phase)."""
    *lead, h, w = a.shape
    hl, wl = -(-h // k), -(-w // k)
    acc = np.zeros((*lead, hl, wl), np.float64)
    for i in range(k):
        for j in range(k):
            part = a[..., i::k, j::k]  # (ceil((h - i)/k), ceil((w - j)/k))
            acc[..., : part.shape[-2], : part.shape[-1]] += part
    rows = np.minimum(k, h - k * np.arange(hl))
    cols = np.minimum(k, w - k * np.arange(wl))
    acc /= rows[:, None] * cols[None, :]
    return acc.astype(np.float32)


def _aligned(chunks: tuple[int, ...], k: int) -> int | None:
    """None when every chunk but the last is a multiple of ``k``, else a chunk size that is."""
    if all(c % k == 0 for c in chunks[:-1]):
        return None
    return max(k, (chunks[0] // k) * k)


def downsample_image(canon: Any, k: int) -> Any:
    """(T, Z, C, Y, X) image at 1/k resolution in Y and X: float32 block means (module doc).

    ``k == 1`` returns ``canon`` unchanged (same object, same dtype), so the
    full-resolution path stays exactly the usual one.  A dask (or zarr) input gives a
    lazy dask array (chunks realigned to multiples of ``k`` where needed).
    Keep ``intensity_range(canon.dtype)`` of the original for the ImageNet scaling.
    """
    k = check_downsample(k)
    if k == 1:
        return canon
    if canon.ndim < 2:
        raise ValueError(f"downsample_image needs an array with Y and X axes, got {canon.shape}")
    if not is_lazy(canon):
        return _block_mean(np.asarray(canon), k)
    return _lazy_blocks(as_dask(canon), k, _block_mean, np.float32)


def _lazy_blocks(x, k: int, func, dtype):
    """``func(block, k)`` per chunk, chunks realigned to multiples of ``k`` in Y, X."""
    ny, nx = x.ndim - 2, x.ndim - 1
    new = {ax: _aligned(x.chunks[ax], k) for ax in (ny, nx)}
    new = {ax: c for ax, c in new.items() if c is not None}
    if new:
        x = x.rechunk(new)
    chunks = (*x.chunks[:-2], *(tuple(-(-c // k) for c in x.chunks[ax]) for ax in (ny, nx)))
    return x.map_blocks(func, k, chunks=chunks, dtype=dtype)


def _block_vote(a: np.ndarray, k: int) -> np.ndarray:
    """Per k x k block the most frequent non-zero label (ties: the smallest), else 0."""
    *lead, h, w = a.shape
    best_n = np.zeros((*lead, -(-h // k), -(-w // k)), np.int32)
    best = np.zeros(best_n.shape, a.dtype)
    for c in np.unique(a):
        if c == 0:
            continue
        mask = a == c
        n = np.zeros(best_n.shape, np.int32)
        for i in range(k):
            for j in range(k):
                part = mask[..., i::k, j::k]
                n[..., : part.shape[-2], : part.shape[-1]] += part
        better = n > best_n  # ascending classes: the smallest wins a tie
        best_n[better] = n[better]
        best[better] = c
    return best


def downsample_annotations(labels: Any, k: int) -> Any:
    """Scribbles (..., Y, X), 0 = unannotated, at 1/k resolution: each k x k block takes
    its most frequent non-zero label (ties: the smallest), 0 where nothing is drawn, so
    thin strokes survive.  Same dtype; ``k == 1`` returns ``labels``; dask stays lazy."""
    k = check_downsample(k)
    if k == 1:
        return labels
    if labels.ndim < 2 or np.dtype(labels.dtype).kind not in "biu":
        raise ValueError(
            f"annotations must be an integer array with Y and X axes, got {labels.dtype} "
            f"of shape {labels.shape}"
        )
    if not is_lazy(labels):
        return _block_vote(np.asarray(labels), k)
    return _lazy_blocks(as_dask(labels), k, _block_vote, labels.dtype)


# -- upsampling ------------------------------------------------------------------------
@lru_cache(maxsize=64)
def _phases(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per phase ``p = i % k``: index offset (-1 or 0) and weight of the upper neighbour."""
    phase = (np.arange(k) + 0.5) / k - 0.5
    off = np.floor(phase).astype(np.int64)
    return off, (phase - off).astype(np.float32)


def _taps(origin: int, n_out: int, n_low: int, k: int) -> tuple[np.ndarray, ...]:
    x = origin + np.arange(n_out)
    off, weight = _phases(k)
    lo = x // k + off[x % k]
    return np.clip(lo, 0, n_low - 1), np.clip(lo + 1, 0, n_low - 1), weight[x % k]


def _interp(a: np.ndarray, axis: int, origin: int, n_out: int, k: int) -> np.ndarray:
    lo, hi, w = _taps(origin, n_out, a.shape[axis], k)
    shape = [1] * a.ndim
    shape[axis] = -1
    out = np.take(a, lo, axis=axis)
    delta = np.take(a, hi, axis=axis)
    delta -= out
    delta *= w.reshape(shape)
    out += delta
    return out


def _window_1d(start: int, stop: int, k: int, n_low: int) -> tuple[slice, int]:
    """Low-resolution rows that full-resolution rows [start, stop) interpolate from, and
    the origin of ``start`` relative to the first of them (``start - low_start * k``)."""
    off, _ = _phases(k)
    first = max(0, start // k + int(off[start % k]))
    last = (stop - 1) // k + int(off[(stop - 1) % k]) + 1  # upper neighbour of the last
    end = min(n_low, last + 1)
    return slice(first, end), start - first * k


def low_window(
    rows: slice, cols: slice, k: int, low_shape: tuple[int, int]
) -> tuple[tuple[slice, slice], tuple[int, int]]:
    """The low-resolution window a full-resolution window needs, and its origin.

    ``rows``/``cols`` are slices (step 1, absolute bounds) of the full-resolution
    window, ``low_shape`` the (Y, X) shape of the whole low-resolution array.  Returns
    ``((low_rows, low_cols), origin)``: pass ``low[..., low_rows, low_cols]`` and
    ``origin`` to :func:`upsample_proba` to get exactly
    ``upsample_proba(low, full_shape, k)[..., rows, cols]``.  The window is the
    neighbours of the window's pixels (at most one low-resolution pixel beyond them
    on each side, clipped at the image border).
    """
    k = check_downsample(k)
    out = []
    for s, n in zip((rows, cols), low_shape, strict=True):
        if s.start is None or s.stop is None or s.step not in (None, 1) or s.stop <= s.start:
            raise ValueError(f"low_window needs slices with explicit bounds and step 1, got {s}")
        if s.start < 0 or s.stop > n * k:
            raise ValueError(f"window {s} is outside an image of {n} low-resolution pixels x {k}")
        out.append(_window_1d(s.start, s.stop, k, n))
    return (out[0][0], out[1][0]), (out[0][1], out[1][1])


def _check_window(low_yx: tuple[int, int], shape: tuple[int, int], origin, k: int) -> None:
    for n_low, n, o, name in zip(low_yx, shape, origin, "YX", strict=True):
        if o < 0 or n < 1 or (o + n - 1) // k >= n_low:
            raise ValueError(
                f"low-resolution array of {n_low} pixels along {name} does not cover "
                f"{n} output pixels from origin {o} at k={k} (use low_window)"
            )


def _upsample_np(low: np.ndarray, shape: tuple[int, int], k: int, origin) -> np.ndarray:
    low = np.asarray(low, dtype=np.float32)
    rows = _interp(low, low.ndim - 2, origin[0], shape[0], k)
    return _interp(rows, low.ndim - 1, origin[1], shape[1], k)


def upsample_proba(
    low: Any, shape: tuple[int, int], k: int, *, origin: tuple[int, int] = (0, 0)
) -> Any:
    """Probabilities (K, ..., y, x) at 1/k resolution -> (K, ..., *shape) float32.

    ``origin`` is where the output window starts, in full-resolution pixels counted
    from ``k`` times the first row/column of ``low`` (``(0, 0)`` with the whole
    low-resolution array and the whole image; :func:`low_window` gives both for a
    crop).  Bilinear, so class probabilities still sum to 1 (to float32 rounding).
    A dask ``low`` gives a lazy result (one output block per low-resolution block).
    """
    k = check_downsample(k)
    shape = (operator.index(shape[0]), operator.index(shape[1]))
    origin = (operator.index(origin[0]), operator.index(origin[1]))
    if low.ndim < 2:
        raise ValueError(f"upsample_proba needs an array with Y and X axes, got {low.shape}")
    _check_window(low.shape[-2:], shape, origin, k)
    if not is_lazy(low):
        return _upsample_np(low, shape, k, origin)
    return _upsample_dask(as_dask(low), shape, k, origin)


def _owned(chunks: tuple[int, ...], k: int, origin: int, n: int) -> list[tuple[int, int]]:
    """Output ranges [s, e) whose pixels fall in each low-resolution chunk."""
    bounds = np.concatenate([[0], np.cumsum(chunks)])
    ranges = np.clip(bounds * k - origin, 0, n)
    ranges[-1] = n
    return [(int(a), int(b)) for a, b in zip(ranges[:-1], ranges[1:], strict=True)]


def _upsample_dask(low, shape: tuple[int, int], k: int, origin: tuple[int, int]):
    import dask.array as da

    ny, nx = low.ndim - 2, low.ndim - 1
    if any(c < 1 for ax in (ny, nx) for c in low.chunks[ax]):
        low = low.rechunk({ny: "auto", nx: "auto"})
    owned = [
        _owned(low.chunks[ax], k, o, n) for ax, o, n in zip((ny, nx), origin, shape, strict=True)
    ]
    starts = [np.concatenate([[0], np.cumsum(low.chunks[ax])]) for ax in (ny, nx)]
    halo = da.overlap.overlap(low, depth={ny: 1, nx: 1}, boundary="none")

    def block(b: np.ndarray, block_id: tuple[int, ...]) -> np.ndarray:
        iy, ix = block_id[ny], block_id[nx]
        size, org = [], []
        for axis, i in ((0, iy), (1, ix)):
            s, e = owned[axis][i]
            first = max(int(starts[axis][i]) - 1, 0)  # the block's first row, halo included
            size.append(e - s)
            org.append(origin[axis] + s - first * k)
        if 0 in size:
            return np.zeros((*b.shape[:-2], *size), np.float32)
        return _upsample_np(b, (size[0], size[1]), k, (org[0], org[1]))

    chunks = (
        *low.chunks[:-2],
        tuple(e - s for s, e in owned[0]),
        tuple(e - s for s, e in owned[1]),
    )
    return halo.map_blocks(block, chunks=chunks, dtype=np.float32)
