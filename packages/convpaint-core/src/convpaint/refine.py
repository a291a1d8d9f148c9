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


def _grid(feats, classify: Classify, origin, margin: int, stride: int, threshold: float):
    """The coarse grid's probabilities and, for every interior pixel, its cell: (pc, agree,
    cy, fy, cx, fx); ``agree[cy][:, cx]``: the pixel's cell is sure."""
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
    cy, fy = np.divmod(np.arange(margin, height - margin) - r0, stride)
    cx, fx = np.divmod(np.arange(margin, width - margin) - c0, stride)
    return pc, agree, cy, fy, cx, fx


def _unsure(agree, cy, fy, cx, fx) -> np.ndarray:
    """Interior pixels classified on their own: those of unsure cells, grid pixels aside."""
    return ~agree[cy][:, cx] & ~((fy == 0)[:, None] & (fx == 0)[None, :])


def refine_plane(
    feats: np.ndarray | FeatureMaps,
    classify: Classify,
    origin: tuple[int, int],
    margin: int,
    stride: int,
    threshold: float,
) -> np.ndarray:
    """Probabilities (n_classes, H - 2 margin, W - 2 margin) of the interior of ``feats``.

    ``feats`` is (F, H, W) for image rows/cols starting at ``origin`` - ``margin``
    (dense, or :class:`~convpaint.feature_maps.FeatureMaps`: then only the pixels
    classified are upsampled); ``margin`` must be >= ``stride``.
    """
    pc, agree, cy, fy, cx, fx = _grid(feats, classify, origin, margin, stride, threshold)
    wy = (fy / stride).astype(np.float32)[:, None]
    wx = (fx / stride).astype(np.float32)[None, :]
    top = pc[:, cy][:, :, cx] * (1 - wx) + pc[:, cy][:, :, cx + 1] * wx
    bottom = pc[:, cy + 1][:, :, cx] * (1 - wx) + pc[:, cy + 1][:, :, cx + 1] * wx
    proba = top * (1 - wy) + bottom * wy
    # grid pixels keep their coarse probabilities (the interpolation's weights are 0 there)
    unsure = _unsure(agree, cy, fy, cx, fx)
    if unsure.any():
        rows, cols = np.nonzero(unsure)
        proba[:, rows, cols] = classify(_gather(feats, rows + margin, cols + margin))
    return proba


def refine_labels(
    feats: np.ndarray | FeatureMaps,
    classify: Classify,
    classify_unsure: Classify,
    origin: tuple[int, int],
    margin: int,
    stride: int,
    threshold: float,
) -> np.ndarray:
    """Class indices (H - 2 margin, W - 2 margin): ``refine_plane(...).argmax(axis=0)``,
    exactly, without interpolating probabilities.

    In a sure cell every corner gives its class a probability >= ``threshold`` > 0.5, so
    any interpolation of the corners has that class first: the cell takes its corners'
    label.  ``classify`` (the grid) needs to return only scores with the probabilities'
    argmax and ``max >= threshold``, ``classify_unsure`` only the argmax (labels-only
    forest walks).
    """
    if not threshold > 0.5:
        raise ValueError(f"threshold must be > 0.5 for labels of sure cells, got {threshold}")
    pc, agree, cy, fy, cx, fx = _grid(feats, classify, origin, margin, stride, threshold)
    labels = pc.argmax(axis=0)[cy][:, cx]  # the top-left corner's (grid pixels: their own)
    unsure = _unsure(agree, cy, fy, cx, fx)
    if unsure.any():
        rows, cols = np.nonzero(unsure)
        scores = classify_unsure(_gather(feats, rows + margin, cols + margin))
        labels[rows, cols] = scores.argmax(axis=0)
    return labels


def refine(
    feats: np.ndarray | FeatureMaps,
    classify: Classify,
    origin: tuple[int, int],
    margin: int,
    stride: int,
    threshold: float,
) -> np.ndarray:
    """:func:`refine_plane` of a plane, or of every plane of a (F, Z, H, W) volume
    (upsampled densely once: each plane reads most of it)."""
    args = (classify, origin, margin, stride, threshold)
    return _each_plane(refine_plane, feats, args, axis=1)


def refine_volume_labels(
    feats: np.ndarray | FeatureMaps,
    classify: Classify,
    classify_unsure: Classify,
    origin: tuple[int, int],
    margin: int,
    stride: int,
    threshold: float,
) -> np.ndarray:
    """:func:`refine_labels` of a plane, or of every plane of a (F, Z, H, W) volume."""
    args = (classify, classify_unsure, origin, margin, stride, threshold)
    return _each_plane(refine_labels, feats, args, axis=0)


def _each_plane(of_plane: Callable, feats: np.ndarray | FeatureMaps, args: tuple, axis: int):
    """``of_plane(feats, *args)`` of a plane, or its results for every plane of a volume
    stacked along ``axis``."""
    if feats.ndim == 3:
        return of_plane(feats, *args)
    dense = feats.dense() if isinstance(feats, FeatureMaps) else feats
    return np.stack([of_plane(dense[:, z], *args) for z in range(dense.shape[1])], axis=axis)


def _gather(feats: np.ndarray | FeatureMaps, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(F, n) features at pixels (rows, cols) of dense features or of feature maps."""
    if isinstance(feats, FeatureMaps):
        return feats.at(rows, cols)
    return feats[:, rows.ravel(), cols.ravel()]
