"""Prediction: features of one tile are classified before the next tile is featurised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .cache import TileFeatures, Unit
from .classifier import predict_proba_features
from .parallel import ordered_map
from .progress import progress_bar
from .refine import refine
from .region import Region
from .tiling import Tile, TileGrid


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
            crop = (slice(y0 - ty.start, y1 - ty.start), slice(x0 - tx.start, x1 - tx.start))
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
    classifier: Any,
    jobs: list[tuple[Unit, Tile, tuple, tuple]],
    write: Callable[[tuple, np.ndarray], None],
    check_features: Callable[[int], None],
    workers: int = 1,
    progress: bool | None = None,
    check: Callable[[], None] = lambda: None,
    callback: Callable[[int, int], None] | None = None,
    stride: int = 1,
    threshold: float = 0.6,
) -> None:
    """Call ``write(where, proba)`` for every job; ``proba`` is (n_classes, *cropped tile shape).

    ``stride`` > 1 predicts coarse to fine (:mod:`convpaint.refine`); the features'
    margin must be at least ``stride``.
    """

    def proba_of(x: np.ndarray) -> np.ndarray:  # (F, n) -> (n_classes, n)
        return predict_proba_features(classifier, x)

    def classify(job):
        check()
        unit, tile, crop, where = job
        if stride > 1:
            feats = features.maps(unit, tile)
            check_features(feats.shape[0])
            origin = (tile.inner[0].start, tile.inner[1].start)
            proba = refine(feats, proba_of, origin, features.margin, stride, threshold)
            return where, proba[(slice(None), *crop)]
        feats = features.inner(unit, tile)
        check_features(feats.shape[0])
        feats = feats[(Ellipsis, *crop)]
        proba = proba_of(feats.reshape(feats.shape[0], -1))
        return where, proba.reshape(-1, *feats.shape[1:])

    with progress_bar(len(jobs), "segmenting", progress) as bar:
        for done, (where, proba) in enumerate(ordered_map(classify, jobs, workers), 1):
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
