"""The annotation label convention (class ``k`` -> label ``k + 1``, 0 = unlabelled) and
scribble coverage."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def instances_to_semantic(mask: np.ndarray) -> np.ndarray:
    """Instance label image -> foreground/background semantic mask (``mask > 0``, uint8)."""
    return (np.asarray(mask) > 0).astype(np.uint8)


def label_dtype(max_label: int) -> np.dtype:
    """The smallest unsigned integer dtype holding ``max_label``."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if max_label <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.uint64)


def classes_to_labels(classes: np.ndarray) -> np.ndarray:
    """Ground-truth class ``k`` -> annotation label ``k + 1`` (0 stays free for *unlabelled*)."""
    classes = np.asarray(classes)
    if classes.size and classes.min() < 0:
        raise ValueError("class values must be >= 0")
    top = int(classes.max()) + 1 if classes.size else 1
    return (classes.astype(np.int64) + 1).astype(label_dtype(top))


def labels_to_classes(labels: np.ndarray, unlabelled: int = -1) -> np.ndarray:
    """Annotation label ``k + 1`` -> class ``k``; label 0 -> ``unlabelled`` (int64 result)."""
    labels = np.asarray(labels).astype(np.int64)
    return np.where(labels > 0, labels - 1, unlabelled)


def scribble_coverage(labels: np.ndarray, planes: Sequence[int] | None = None) -> float:
    """Fraction of annotated (non-zero) pixels, optionally over the given planes only."""
    labels = np.asarray(labels)
    if planes is not None:
        labels = labels[list(planes)]
    return float(np.count_nonzero(labels)) / labels.size if labels.size else 0.0
