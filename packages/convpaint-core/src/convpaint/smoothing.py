"""Smoothing of results: a mean filter of class probabilities, a majority filter of labels.

Both work plane by plane on the last two axes (Y, X) of canonical arrays
(probabilities (K, T, Z, Y, X), labels (T, Z, Y, X); any leading axes do), with a
window of radius ``r``: a ``"box"`` of (2r + 1)^2 pixels or a ``"disk"`` of the
pixels within distance r of the centre.  Borders replicate the edge pixel
(scipy's ``mode="nearest"``).

* :func:`smooth_proba`: per class, the window mean of the probabilities, then
  renormalised so the classes sum to 1 at each pixel.
* :func:`smooth_labels`: the most frequent class in the window; on a tie the
  centre pixel keeps its class if it is among the most frequent, else the
  smallest tied class value wins.

Window sums add shifted views one after the other in a fixed order (no running
sums), so each output pixel depends only on its window: smoothing a crop grown by
:func:`smoothing_margin` on each side and cutting the margin off again gives exactly
the crop of smoothing the whole, and dask inputs (``map_overlap``, any chunking)
give exactly the NumPy numbers.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from functools import lru_cache, partial
from typing import Any

import numpy as np

from .inputs import as_dask, is_lazy

FOOTPRINTS = ("box", "disk")


def check_smooth(radius: Any) -> int:
    """``radius`` as a non-negative int (0 = no smoothing); anything else is a ValueError."""
    if isinstance(radius, (bool, np.bool_)):
        raise ValueError(f"smooth must be a non-negative integer radius, got the bool {radius!r}")
    if isinstance(radius, (float, np.floating)):
        if not float(radius).is_integer():
            raise ValueError(f"smooth must be a non-negative integer radius, got {radius!r}")
        radius = int(radius)
    try:
        radius = operator.index(radius)
    except TypeError:
        raise ValueError(f"smooth must be a non-negative integer radius, got {radius!r}") from None
    if radius < 0:
        raise ValueError(f"smooth must be a non-negative integer radius, got {radius}")
    return int(radius)


def check_footprint(footprint: str) -> str:
    if footprint not in FOOTPRINTS:
        raise ValueError(f"footprint must be one of {', '.join(FOOTPRINTS)}; got {footprint!r}")
    return footprint


def smoothing_margin(radius: int) -> int:
    """Pixels to add on each side of a (Y, X) window so that smoothing the grown window
    and cropping it back equals the crop of smoothing the whole image."""
    return check_smooth(radius)


@lru_cache(maxsize=32)
def _disk_rows(radius: int) -> tuple[int, ...]:
    """Half-width of the disk's row at each dy in [-r, r] (pixels with dy^2 + dx^2 <= r^2)."""
    return tuple(
        int(np.floor(np.sqrt(radius * radius - dy * dy))) for dy in range(-radius, radius + 1)
    )


def _window_sum(a: np.ndarray, r: int, footprint: str, dtype: type) -> np.ndarray:
    """Sum of ``a`` over the window around each pixel of the last two axes (edge-replicated),
    plane by plane (temporaries of one plane)."""
    out: np.ndarray = np.empty(a.shape, dtype)
    for idx in np.ndindex(*a.shape[:-2]):
        out[idx] = _plane_sum(a[idx], r, footprint, dtype)
    return out


def _plane_sum(a: np.ndarray, r: int, footprint: str, dtype: type) -> np.ndarray:
    h, w = a.shape
    p: np.ndarray = np.pad(a.astype(dtype, copy=False), r, mode="edge")
    if footprint == "box":  # separable: rows, then columns
        rows = p[0:h].copy()
        for dy in range(1, 2 * r + 1):
            rows += p[dy : dy + h]
        out = rows[:, 0:w].copy()
        for dx in range(1, 2 * r + 1):
            out += rows[:, dx : dx + w]
        return out
    out = np.zeros((h, w), dtype)
    for dy, half in enumerate(_disk_rows(r)):
        for dx in range(r - half, r + half + 1):
            out += p[dy : dy + h, dx : dx + w]
    return out


# -- probabilities ---------------------------------------------------------------------
def _smooth_proba_np(proba: np.ndarray, r: int, footprint: str) -> np.ndarray:
    acc = _window_sum(np.asarray(proba), r, footprint, np.float32)
    total = acc[0].copy()
    for c in range(1, acc.shape[0]):
        total += acc[c]
    np.divide(acc, total, out=acc, where=total > 0)
    return acc


def smooth_proba(proba: Any, radius: int, *, footprint: str = "box") -> Any:
    """Window mean of each class's probabilities in Y, X, renormalised (module doc).

    ``proba`` is (K, ..., Y, X) with the classes first; the result is float32 of
    the same shape (a lazy dask array for a dask input).  ``radius == 0`` returns
    ``proba`` unchanged.
    """
    r = check_smooth(radius)
    check_footprint(footprint)
    if proba.ndim < 3:
        raise ValueError(f"proba must be (classes, ..., Y, X), got shape {proba.shape}")
    if np.dtype(proba.dtype).kind != "f":
        raise TypeError(f"proba must be a float array of probabilities, got {proba.dtype}")
    if r == 0:
        return proba
    if not is_lazy(proba):
        return _smooth_proba_np(proba, r, footprint)
    x = as_dask(proba)
    x = x.rechunk({0: -1}) if len(x.chunks[0]) > 1 else x
    return _overlap(x, r, _smooth_proba_np, np.float32, footprint=footprint)


def _overlap(x, r: int, func, dtype, **args):
    """``func(block, r=r, **args)`` on blocks grown by ``r`` in Y, X (edges: ``func``'s own)."""
    depth = {i: 0 for i in range(x.ndim)}
    depth[x.ndim - 2] = depth[x.ndim - 1] = r
    return x.map_overlap(partial(func, r=r, **args), depth, boundary="none", dtype=dtype)


# -- labels ----------------------------------------------------------------------------
def _majority_np(
    labels: np.ndarray, r: int, classes: tuple[int, ...], footprint: str
) -> np.ndarray:
    labels = np.asarray(labels)
    best_n = np.full(labels.shape, -1, np.int32)
    best_c = np.zeros(labels.shape, labels.dtype)
    centre_n = np.full(labels.shape, -1, np.int32)
    for c in classes:  # ascending: strict '>' keeps the smallest class on ties
        mask = labels == c
        n = _window_sum(mask, r, footprint, np.int32)
        better = n > best_n
        best_n[better] = n[better]
        best_c[better] = c
        centre_n[mask] = n[mask]
    if (centre_n < 0).any():
        bad = np.unique(labels[centre_n < 0])[:5].tolist()
        raise ValueError(f"labels contain values {bad} that are not in classes {list(classes)}")
    return np.where(centre_n == best_n, labels, best_c)


def _check_classes(classes: Iterable[Any] | None, labels: Any) -> tuple[int, ...]:
    if classes is None:
        if is_lazy(labels):
            import dask.array as da

            found = da.unique(as_dask(labels)).compute()
        else:
            found = np.unique(np.asarray(labels))
        return tuple(int(c) for c in found)
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
        raise TypeError(f"classes must be a sequence of integer class values, got {classes!r}")
    out = []
    for c in classes:
        if isinstance(c, (bool, np.bool_)):
            raise TypeError(f"classes must be integer class values, got the bool {c!r}")
        try:
            out.append(operator.index(c))
        except TypeError:
            raise TypeError(f"classes must be integer class values, got {c!r}") from None
    if not out:
        raise ValueError("classes is empty")
    if len(set(out)) != len(out):
        raise ValueError(f"classes has repeated values: {out}")
    return tuple(sorted(out))


def smooth_labels(
    labels: Any, radius: int, classes: Iterable[int] | None = None, *, footprint: str = "box"
) -> Any:
    """Majority filter of a label image in Y, X (module doc); same shape and dtype.

    ``classes`` are the class values (default: the values present, which for a dask
    input costs one pass over it); a label outside them is a ValueError.  A dask input
    gives a lazy dask array.  ``radius == 0`` returns ``labels`` unchanged.
    """
    r = check_smooth(radius)
    check_footprint(footprint)
    if labels.ndim < 2:
        raise ValueError(f"labels must have Y and X axes, got shape {labels.shape}")
    if np.dtype(labels.dtype).kind not in "biu":
        raise TypeError(f"labels must be an integer image, got {labels.dtype}")
    values = _check_classes(classes, labels)
    if r == 0:
        return labels
    if not is_lazy(labels):
        return _majority_np(labels, r, values, footprint)
    x = as_dask(labels)
    return _overlap(x, r, _majority_np, x.dtype, classes=values, footprint=footprint)
