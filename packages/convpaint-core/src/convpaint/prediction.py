"""Prediction: features of one tile are classified before the next tile is featurised.

:class:`Predictor` holds everything a tile's classification needs (pipeline,
fitted classifier, classes, tile plan), explicitly and picklable; the in-memory
path (:func:`predict_tiles`) and the dask path (:mod:`convpaint.lazy`) both
classify with :func:`classify_block`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cache import TileFeatures, Unit
from .classifier import predict_proba_features
from .feature_maps import FeatureMaps
from .features import FeaturePipeline
from .parallel import ordered_map
from .plan import TilePlan
from .progress import progress_bar
from .refine import refine, refine_volume_labels
from .region import Region
from .tiling import Tile, TileGrid

THRESHOLD = 0.6  # coarse-to-fine: probability a unanimous neighbourhood must reach


@dataclass(frozen=True)
class Predictor:
    """A trained classifier applied to tiles of one plan (picklable: dask workers get it)."""

    pipeline: FeaturePipeline
    classifier: Any
    classes: np.ndarray
    n_features: int
    plan: TilePlan
    full_scale: float = 1.0
    stride: int = 1
    label_dtype: np.dtype = np.dtype(np.int64)

    def classify(self, x: np.ndarray) -> np.ndarray:
        """(F, n) features -> (n_classes, n) probabilities."""
        return predict_proba_features(self.classifier, x)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """(F, n) features -> (n_classes, n) scores whose argmax is the probabilities'
        (a labels-only forest walk: :func:`convpaint.forest_kernel.forest_proba`)."""
        return predict_proba_features(self.classifier, x, labels_only=True)

    def grid_scores(self, x: np.ndarray) -> np.ndarray:
        """:meth:`scores` whose ``max >= THRESHOLD`` is also the probabilities' (coarse to
        fine's test of a grid point)."""
        return predict_proba_features(self.classifier, x, labels_only=True, sure_at=THRESHOLD)

    def check_features(self, n: int) -> None:
        if n != self.n_features:
            raise ValueError(
                f"the extractor gives {n} features per pixel but the classifier was trained on "
                f"{self.n_features} (different extractor options, scalings or channel count?)"
            )


def classify_block(p: Predictor, maps: FeatureMaps, crop: tuple, origin: tuple[int, int]):
    """Probabilities (K, *cropped tile) of a tile from its features (tile plus margin)."""
    p.check_features(maps.shape[0])
    if p.stride > 1:
        proba = refine(maps, p.classify, origin, p.plan.margin, p.stride, THRESHOLD)
        return proba[(slice(None), *crop)]
    feats = _cropped(p, maps, crop)
    return p.classify(feats.reshape(feats.shape[0], -1)).reshape(-1, *feats.shape[1:])


def label_block(p: Predictor, maps: FeatureMaps, crop: tuple, origin: tuple[int, int]):
    """Labels (*cropped tile) of a tile: the classes of ``classify_block(...).argmax(0)``,
    exactly, with neither interpolated probabilities (:func:`~convpaint.refine.refine_labels`)
    nor every tree walked for pixels whose class is settled (:meth:`Predictor.scores`)."""
    p.check_features(maps.shape[0])
    if p.stride > 1:
        args = (origin, p.plan.margin, p.stride, THRESHOLD)
        index = refine_volume_labels(maps, p.grid_scores, p.scores, *args)[crop]
    else:
        feats = _cropped(p, maps, crop)
        scores = p.scores(feats.reshape(feats.shape[0], -1))
        index = scores.argmax(axis=0).reshape(feats.shape[1:])
    return p.classes[index].astype(p.label_dtype, copy=False)


def _cropped(p: Predictor, maps: FeatureMaps, crop: tuple) -> np.ndarray:
    dense = maps.dense()
    m = p.plan.margin
    if m:
        dense = dense[..., m : dense.shape[-2] - m, m : dense.shape[-1] - m]
    return dense[(Ellipsis, *crop)]


def tile_jobs(units: list[Unit], grid: TileGrid, region: Region) -> list[tuple]:
    """(unit, tile, crop within the tile, index into the region's output) for every tile needed."""
    jobs = []
    rows, cols = region.rows, region.cols
    for unit in units:
        t, z = unit.index
        out_tz = (t - region.t.start, slice(None) if isinstance(z, slice) else z - region.z.start)
        for tile in grid.within(rows, cols):
            (ty, tx) = tile.inner
            y0, y1 = max(ty.start, rows.start), min(ty.stop, rows.stop)
            x0, x1 = max(tx.start, cols.start), min(tx.stop, cols.stop)
            crop: tuple[slice, ...] = (
                slice(y0 - ty.start, y1 - ty.start),
                slice(x0 - tx.start, x1 - tx.start),
            )
            if isinstance(z, slice):  # a volume: keep the region's planes
                crop = (region.z, *crop)
            where = (
                *out_tz,
                slice(y0 - rows.start, y1 - rows.start),
                slice(x0 - cols.start, x1 - cols.start),
            )
            jobs.append((unit, tile, crop, where))
    return jobs


def predict_tiles(
    features: TileFeatures,
    predictor: Predictor,
    jobs: list[tuple[Unit, Tile, tuple, tuple]],
    write: Callable[[tuple, np.ndarray], None],
    progress: bool | None = None,
    check: Callable[[], None] = lambda: None,
    callback: Callable[[int, int], None] | None = None,
    labels: bool = False,
) -> None:
    """Call ``write(where, block)`` for every job; ``block`` is the probabilities
    (n_classes, *cropped tile shape) or, with ``labels``, the labels (:func:`label_block`)."""
    predict = label_block if labels else classify_block

    def classify(job):
        check()
        unit, tile, crop, where = job
        origin = (tile.inner[0].start, tile.inner[1].start)
        return where, predict(predictor, features.maps(unit, tile), crop, origin)

    with progress_bar(len(jobs), "segmenting", progress) as bar:
        jobs_done = ordered_map(classify, jobs, predictor.plan.workers)
        for done, (where, proba) in enumerate(jobs_done, 1):
            check()
            write(where, proba)
            bar.update(1)
            if callback is not None:
                callback(done, len(jobs))


def map_features(features: TileFeatures, units: list[Unit], grid: TileGrid, workers: int = 1):
    """Yield (where, features) for every tile (inspection and benchmarks)."""
    jobs = [(unit, tile) for unit in units for tile in grid]

    def featurise(job):
        unit, tile = job
        return (*unit.index, *tile.inner), features.compute(unit, tile).dense()

    yield from ordered_map(featurise, jobs, workers)
