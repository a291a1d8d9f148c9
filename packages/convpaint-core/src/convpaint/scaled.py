"""Predictions at another input scale and smoothed: ``downsample=`` and ``smooth=``.

With ``downsample=k`` a model trains, featurises and classifies the image at 1/k
resolution in Y and X (:func:`convpaint.rescale.downsample_image`; scribbles: the
most frequent class of each k x k block) and brings the probabilities back to full
size by bilinear interpolation (:func:`convpaint.rescale.upsample_proba`).  With
``smooth=r`` the class probabilities are box-filtered with radius r
(:func:`convpaint.smoothing.smooth_proba`) before the labels are taken.

A region is predicted on the region grown by the smoothing margin and by the
low-resolution pixels its interpolation reads, then cut back: the result of
``region=R`` equals the same crop of the whole image's result, for NumPy and dask
inputs alike (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .classifier import label_dtype
from .inputs import as_dask, is_lazy
from .normalize import intensity_range
from .region import Region
from .rescale import check_downsample, downsample_image, low_window, upsample_proba
from .smoothing import check_smooth, smooth_proba, smoothing_margin


@dataclass(frozen=True)
class Scale:
    """How a call predicts: ``downsample`` factor, ``smooth`` radius and, for an image
    that was downsampled already, the intensity range of its original dtype."""

    smooth: int = 0
    downsample: int = 1
    full: float | None = None

    @classmethod
    def of(cls, model: Any, smooth: Any = None, downsample: Any = None) -> Scale:
        """The call's scale: its arguments, else the model's settings."""
        return cls(
            model.smooth if smooth is None else check_smooth(smooth),
            model.downsample if downsample is None else check_downsample(downsample),
        )

    @property
    def active(self) -> bool:
        return self.smooth > 0 or self.downsample > 1

    def full_scale(self, canon: Any) -> float:
        return intensity_range(canon.dtype) if self.full is None else self.full

    def predict(
        self,
        predict: Callable[..., Any],
        canon: Any,
        reg: Region,
        fitted: tuple,
        want_proba: bool,
        check: Callable[[], None],
        callback: Any,
    ) -> Any:
        """Canonical probabilities or labels of ``reg``; ``predict`` is the model's
        full-resolution, unsmoothed prediction (``ConvpaintModel._canonical``)."""
        height, width = canon.shape[-2:]
        m = smoothing_margin(self.smooth)
        rows = slice(max(0, reg.rows.start - m), min(height, reg.rows.stop + m))
        cols = slice(max(0, reg.cols.start - m), min(width, reg.cols.stop + m))
        inner = Scale(full=self.full_scale(canon))
        k = self.downsample
        if k > 1:
            low = downsample_image(canon, k)
            (low_rows, low_cols), origin = low_window(rows, cols, k, low.shape[-2:])
            low_reg = Region(reg.t, reg.z, low_rows, low_cols, ())
            proba = predict(low, low_reg, fitted, True, check, callback, inner)
            size = (rows.stop - rows.start, cols.stop - cols.start)
            proba = upsample_proba(proba, size, k, origin=origin)
        else:
            grown = Region(reg.t, reg.z, rows, cols, ())
            proba = predict(canon, grown, fitted, True, check, callback, inner)
        proba = smooth_proba(proba, self.smooth)
        crop = (
            slice(reg.rows.start - rows.start, reg.rows.stop - rows.start),
            slice(reg.cols.start - cols.start, reg.cols.stop - cols.start),
        )
        proba = proba[(Ellipsis, *crop)]
        return proba if want_proba else labels_of(proba, fitted[1])


def labels_of(proba: Any, classes: np.ndarray) -> Any:
    """Class values of the most probable class (class axis first); NumPy or dask."""
    classes = np.asarray(classes)
    dtype = label_dtype(classes)
    if not is_lazy(proba):
        return classes[np.argmax(proba, axis=0)].astype(dtype, copy=False)
    import dask.array as da

    index = da.argmax(as_dask(proba), axis=0)
    return index.map_blocks(lambda i: classes[i].astype(dtype, copy=False), dtype=dtype)


def downsample_training(canon: Any, annotations: Any, k: int) -> tuple[Any, Any]:
    """(image, scribbles) at 1/k resolution: block means and block-wise scribble classes."""
    return downsample_image(canon, k), downsample_labels(annotations, k)


def downsample_labels(labels: Any, k: int) -> Any:
    """(T, Z, Y, X) scribbles -> ceil(Y/k) x ceil(X/k): each k x k block takes the most
    frequent non-zero class in it (ties: the smallest value), 0 where it has none, so
    thin strokes survive.  NumPy or dask (lazy, block-wise)."""
    k = check_downsample(k)
    if k == 1:
        return labels
    pad = [(0, 0)] * (labels.ndim - 2) + [(0, -n % k) for n in labels.shape[-2:]]
    if not is_lazy(labels):
        return _block_mode(np.pad(np.asarray(labels), pad), k)
    import dask.array as da

    x = da.pad(as_dask(labels), pad, mode="constant")
    # blocks of whole k x k cells, then one output cell per k x k
    chunks = {ax: _multiple(x.chunks[ax], k) for ax in (x.ndim - 2, x.ndim - 1)}
    x = x.rechunk(chunks)
    out = tuple(tuple(c // k for c in x.chunks[ax]) for ax in (x.ndim - 2, x.ndim - 1))
    return x.map_blocks(_block_mode, k, chunks=(*x.chunks[:-2], *out), dtype=x.dtype)


def _multiple(chunks: tuple[int, ...], k: int) -> tuple[int, ...]:
    size = max(k, (max(chunks) // k) * k)
    total = sum(chunks)
    return (size,) * (total // size) + ((total % size,) if total % size else ())


def _block_mode(a: np.ndarray, k: int) -> np.ndarray:
    """Most frequent non-zero value of each k x k block of the last two axes."""
    h, w = a.shape[-2] // k, a.shape[-1] // k
    blocks = a.reshape(*a.shape[:-2], h, k, w, k)
    out = np.zeros((*a.shape[:-2], h, w), dtype=a.dtype)
    best = np.zeros(out.shape, dtype=np.int64)
    for value in np.unique(a):
        if value == 0:
            continue
        count = (blocks == value).sum(axis=(-3, -1))
        better = count > best  # strictly: ties keep the smaller value (unique is sorted)
        out[better] = value
        best[better] = count[better]
    return out
