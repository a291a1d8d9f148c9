"""Coarse-to-fine classification: classify a sparse grid, refine only where it is unsure.

Pixels on a global grid of ``stride`` are classified first.  A grid cell whose
four corners agree on the class, each with probability >= ``threshold``
(> 0.5), takes the bilinear interpolation of the corner probabilities, whose
argmax is then that class; every pixel of the other cells (class boundaries,
uncertain regions) is classified on its own.  The grid is anchored at image
coordinate 0, and a tile brings features for ``stride`` pixels around it, so
results do not depend on tiling or on the region asked for.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .feature_maps import FeatureMaps

Classify = Callable[[np.ndarray], np.ndarray]  # (F, n) features -> (n_classes, n) probabilities


def refine_plane(
    feats: np.ndarray | FeatureMaps,
    classify: Classify,
    origin: tuple[int, int],
    margin: int,
    stride: int,
    threshold: float,
    classify_unsure: Classify | None = None,
) -> np.ndarray:
    """Probabilities (n_classes, H - 2 margin, W - 2 margin) of the interior of ``feats``.

    ``feats`` is (F, H, W) for image rows/cols starting at ``origin`` - ``margin``
    (dense, or :class:`~convpaint.feature_maps.FeatureMaps`: then only the pixels
    classified are upsampled); ``margin`` must be >= ``stride``.  The unsure cells'
    pixels go through ``classify_unsure`` (default ``classify``): e.g. a labels-only
    classifier whose scores share the probabilities' argmax.
    """
    _, height, width = feats.shape
    r0 = (margin - origin[0]) % stride  # first grid row/col in local coordinates
    c0 = (margin - origin[1]) % stride
    grid_rows = np.arange(r0, height, stride)
    grid_cols = np.arange(c0, width, stride)
    rows, cols = np.meshgrid(grid_rows, grid_cols, indexing="ij")
    pc = classify(_gather(feats, rows, cols)).reshape(-1, grid_rows.size, grid_cols.size)
    label = pc.argmax(axis=0)
    sure = pc.max(axis=0) >= threshold
    agree = (
        (label[:-1, :-1] == label[1:, :-1])
        & (label[:-1, :-1] == label[:-1, 1:])
        & (label[:-1, :-1] == label[1:, 1:])
        & sure[:-1, :-1]
        & sure[1:, :-1]
        & sure[:-1, 1:]
        & sure[1:, 1:]
    )
    ys = np.arange(margin, height - margin)
    xs = np.arange(margin, width - margin)
    cy, fy = np.divmod(ys - r0, stride)
    cx, fx = np.divmod(xs - c0, stride)
    wy = (fy / stride).astype(np.float32)[:, None]
    wx = (fx / stride).astype(np.float32)[None, :]
    top = pc[:, cy][:, :, cx] * (1 - wx) + pc[:, cy][:, :, cx + 1] * wx
    bottom = pc[:, cy + 1][:, :, cx] * (1 - wx) + pc[:, cy + 1][:, :, cx + 1] * wx
    proba = top * (1 - wy) + bottom * wy
    # grid pixels keep their coarse probabilities (the interpolation's weights are 0 there)
    unsure = ~agree[cy][:, cx] & ~((fy == 0)[:, None] & (fx == 0)[None, :])
    if unsure.any():
        rows, cols = np.nonzero(unsure)
        final = classify
        if classify_unsure is not None:
            final = classify_unsure
            order = _surest_last(proba[:, rows, cols])
            rows, cols = rows[order], cols[order]
        proba[:, rows, cols] = final(_gather(feats, rows + margin, cols + margin))
    return proba


def refine(
    feats: np.ndarray | FeatureMaps,
    classify: Classify,
    origin: tuple[int, int],
    margin: int,
    stride: int,
    threshold: float,
    classify_unsure: Classify | None = None,
) -> np.ndarray:
    """:func:`refine_plane` of a plane, or of every plane of a (F, Z, H, W) volume
    (upsampled densely once: each plane reads most of it)."""
    args = (classify, origin, margin, stride, threshold, classify_unsure)
    if feats.ndim == 3:
        return refine_plane(feats, *args)
    dense = feats.dense() if isinstance(feats, FeatureMaps) else feats
    return np.stack([refine_plane(dense[:, z], *args) for z in range(dense.shape[1])], axis=1)


def _surest_last(proba: np.ndarray) -> np.ndarray:
    """Order of (K, n) interpolated probabilities by the lead of their top class over the
    next, in 64 steps: pixels the forest settles after as many trees walk side by side."""
    top2 = np.partition(proba, proba.shape[0] - 2, axis=0)[-2:] if proba.shape[0] > 2 else proba
    lead = np.abs(top2[-1] - top2[0])
    return np.argsort((lead * 63.999).astype(np.uint8), kind="stable")


def _gather(feats: np.ndarray | FeatureMaps, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(F, n) features at pixels (rows, cols) of dense features or of feature maps."""
    if isinstance(feats, FeatureMaps):
        return feats.at(rows, cols)
    return feats[:, rows.ravel(), cols.ravel()]
