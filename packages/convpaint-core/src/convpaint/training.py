"""Training samples: features of the annotated pixels only, from the tiles that hold them.

A tile's samples are kept in the feature cache, keyed by its features' key and a hash
of its annotations: after a stroke, only the tiles the stroke touched are gathered again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .cache import TileFeatures, Unit
from .parallel import ordered_map
from .progress import progress_bar
from .tiling import TileGrid


def annotated_planes(annotations) -> tuple[slice, slice, list[tuple[int, int]]]:
    """(t range, z range, annotated (t, z) planes) of (T, Z, Y, X) annotations, NumPy or
    dask (one reduction); refuses empty annotations."""
    annotated = (annotations > 0).any(axis=(2, 3))
    if not isinstance(annotated, np.ndarray):
        annotated = annotated.compute()
    t, z = np.nonzero(np.asarray(annotated))
    if t.size == 0:
        raise ValueError("annotations are empty: draw at least one scribble (labels > 0)")
    planes = list(zip(t.tolist(), z.tolist(), strict=True))
    return slice(int(t.min()), int(t.max()) + 1), slice(None), planes


class LazyPlanes:
    """Planes of lazy (T, Z, Y, X) annotations, read one at a time when indexed."""

    def __init__(self, annotations) -> None:
        self.annotations = annotations

    def __getitem__(self, index) -> np.ndarray:
        return np.asarray(self.annotations[index])


@dataclass(frozen=True)
class TileSamples:
    """One tile's samples as a feature-cache entry: (F, n) features, labels, positions."""

    x: np.ndarray
    y: np.ndarray
    pos: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.x.nbytes + self.y.nbytes + self.pos.nbytes

    def freeze(self) -> None:
        for a in (self.x, self.y, self.pos):
            a.flags.writeable = False


def _tile_samples(features: TileFeatures, unit: Unit, tile, lab: np.ndarray) -> TileSamples:
    """Features, labels and (tile-local) positions of the annotated pixels of a tile."""
    sel = lab > 0
    pos = np.array(np.nonzero(sel), dtype=np.intp).reshape(lab.ndim, -1)
    if lab.ndim == 2:  # a plane: upsample features at the annotated pixels only
        m = features.margin
        x = features.maps(unit, tile).at(pos[0] + m, pos[1] + m)
    else:
        x = features.inner(unit, tile)[:, sel]
    return TileSamples(x, lab[sel], pos)


def _cached_samples(features: TileFeatures, unit: Unit, tile, lab: np.ndarray) -> TileSamples:
    """:func:`_tile_samples`, from the feature cache when the tile's features and
    annotations are the same as before."""
    cache = features.cache
    if cache is None or unit.source is None:
        return _tile_samples(features, unit, tile, lab)
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((lab.dtype.str, lab.shape)).encode())
    h.update(np.ascontiguousarray(lab).data)
    key = ("samples", *features.key(unit, tile), h.hexdigest())
    found = cache.get(key, count=False)
    if isinstance(found, TileSamples):
        return found
    samples = _tile_samples(features, unit, tile, lab)
    if features.store:
        cache.put(key, samples)
    return samples


def collect_samples(
    features: TileFeatures,
    units: list[Unit],
    annotations: np.ndarray,
    grid: TileGrid,
    workers: int = 1,
    progress: bool | None = None,
    check: Callable[[], None] = lambda: None,
    callback: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(n_samples, n_features) features and labels of every annotated pixel.

    ``units`` come from the model (one per plane or volume), ``annotations`` is
    (T, Z, Y, X).  Samples are ordered by pixel position, so the result does
    not depend on the tiling nor on which tiles came from the cache.
    """
    if not isinstance(annotations, np.ndarray):  # lazy: only the annotated planes are read
        annotations = LazyPlanes(annotations)
    jobs: list[tuple] = []
    for n, unit in enumerate(units):
        ann = annotations[unit.index]
        mask = ann > 0 if ann.ndim == 2 else (ann > 0).any(axis=0)
        if mask.any():
            jobs.extend((n, unit, ann, tile) for tile in grid.touching(mask))

    def featurise(job):
        check()
        n, unit, ann, tile = job
        samples = _cached_samples(features, unit, tile, ann[(Ellipsis, *tile.inner)])
        pos = samples.pos.copy()
        pos[-2] += tile.inner[0].start
        pos[-1] += tile.inner[1].start
        key = np.ravel_multi_index((np.full(pos.shape[1], n), *pos), (len(units), *ann.shape))
        return samples.x.T, samples.y, key

    xs, ys, keys = [], [], []
    with progress_bar(len(jobs), "features (training)", progress) as bar:
        for x, y, key in ordered_map(featurise, jobs, workers):
            check()
            xs.append(x)
            ys.append(y)
            keys.append(key)
            bar.update(1)
            if callback is not None:
                callback(len(keys), len(jobs))
    if not xs:
        raise ValueError("annotations are empty: draw at least one scribble (labels > 0)")
    order = np.argsort(np.concatenate(keys), kind="stable")
    return np.concatenate(xs, axis=0)[order], np.concatenate(ys)[order].astype(np.int64)
