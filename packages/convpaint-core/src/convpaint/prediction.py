"""Prediction: features of one tile are classified before the next tile is featurised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .classifier import predict_proba_in_chunks
from .features import FeaturePipeline
from .parallel import ordered_map
from .progress import progress_bar
from .tiling import TileGrid


def predict_tiles(
    pipeline: FeaturePipeline,
    classifier: Any,
    units: list[tuple[tuple, np.ndarray]],
    grid: TileGrid,
    write: Callable[[tuple, np.ndarray], None],
    check_features: Callable[[int], None],
    workers: int = 1,
    progress: bool | None = None,
) -> None:
    """Call ``write(where, proba)`` for every tile; ``proba`` is (n_classes, *tile shape)."""
    jobs = _jobs(units, grid)

    def classify(job):
        index, padded, tile = job
        feats = pipeline.block_features(padded[(Ellipsis, *tile.block)])
        check_features(feats.shape[0])
        flat = feats.reshape(feats.shape[0], -1).T
        proba = predict_proba_in_chunks(classifier, flat)
        return (*index, *tile.inner), proba.T.reshape(-1, *feats.shape[1:])

    with progress_bar(len(units) * len(grid), "segmenting", progress) as bar:
        for where, proba in ordered_map(classify, jobs, workers):
            write(where, proba)
            bar.update(1)


def map_features(
    pipeline: FeaturePipeline,
    units: list[tuple[tuple, np.ndarray]],
    grid: TileGrid,
    workers: int = 1,
):
    """Yield (where, features) for every tile (inspection and benchmarks)."""
    jobs = _jobs(units, grid)

    def featurise(job):
        index, padded, tile = job
        return (*index, *tile.inner), pipeline.block_features(padded[(Ellipsis, *tile.block)])

    yield from ordered_map(featurise, jobs, workers)


def _jobs(units: list[tuple[tuple, np.ndarray]], grid: TileGrid):
    """(index, padded unit, tile) triples, padding one unit at a time."""
    for index, data in units:
        padded = grid.pad(data)
        for tile in grid:
            yield index, padded, tile
