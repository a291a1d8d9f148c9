"""Segmentation scores: per-class IoU, mean IoU, pixel accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def iou_per_class(
    truth: np.ndarray, pred: np.ndarray, classes: Sequence[int] | None = None
) -> dict[int, float]:
    """Intersection over union for each class.

    ``classes`` defaults to the union of the classes in ``truth`` and ``pred``;
    a class absent from both gets NaN.
    """
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.shape != pred.shape:
        raise ValueError(f"shapes differ: truth {truth.shape}, prediction {pred.shape}")
    if classes is None:
        classes = np.union1d(np.unique(truth), np.unique(pred)).tolist()
    out = {}
    for k in classes:
        t, p = truth == k, pred == k
        union = np.count_nonzero(t | p)
        out[int(k)] = float(np.count_nonzero(t & p) / union) if union else float("nan")
    return out


def mean_iou(truth: np.ndarray, pred: np.ndarray, classes: Sequence[int] | None = None) -> float:
    """Mean of :func:`iou_per_class` over the classes (NaN classes ignored)."""
    values = [v for v in iou_per_class(truth, pred, classes).values() if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def accuracy(truth: np.ndarray, pred: np.ndarray) -> float:
    """Fraction of pixels with the right class."""
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.shape != pred.shape:
        raise ValueError(f"shapes differ: truth {truth.shape}, prediction {pred.shape}")
    return float(np.mean(truth == pred)) if truth.size else float("nan")
