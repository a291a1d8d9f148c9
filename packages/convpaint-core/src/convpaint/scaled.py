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
from .rescale import (
    check_downsample,
    downsample_annotations,
    downsample_image,
    low_window,
    upsample_proba,
)
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
    """(image, scribbles) at 1/k resolution: block means and, per block, its most frequent
    scribbled class (:func:`convpaint.rescale.downsample_annotations`)."""
    if np.dtype(annotations.dtype).kind == "f":  # integral floats (checked by the validator)
        annotations = annotations.astype(np.int64)
    return downsample_image(canon, k), downsample_annotations(annotations, k)
