"""Lazy inputs (dask and zarr arrays): statistics by reduction, predictions as a dask graph.

* Normalisation statistics come from a reduction pass over fixed row blocks
  (:func:`convpaint.normalize.moments` sums the same blocks in memory), so
  they are the same numbers as for the in-memory array, whatever the chunking;
  only the planes a call needs are read.
* A prediction is a dask array with one chunk per tile of the call's
  :class:`~convpaint.plan.TilePlan`: each task reads its tile's block (halo
  included, reflected at the borders) and classifies it with the same
  functions as the in-memory path (:mod:`convpaint.prediction`: ``classify_block``,
  ``label_block``),
  so only labels or probabilities leave a task.  Threads by default; any dask
  scheduler (e.g. a ``dask.distributed.Client``) computes it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from .inputs import as_dask, is_lazy  # noqa: F401 (re-exported)
from .normalize import block_rows, block_stats, combine
from .prediction import classify_block, label_block


# -- statistics --------------------------------------------------------------------------
def _stats_block(block):
    return np.array(block_stats(block[0, 0, 0])).reshape(1, 1, 1, 1, 2)


def _hash_block(block):
    h = hashlib.blake2b(np.ascontiguousarray(block).tobytes(), digest_size=8)
    return np.frombuffer(h.digest(), np.uint64).reshape((1,) * block.ndim)


def _select(canon, planes: list[tuple[int, int]] | None):
    """(P, 1, C, Y, X) of the (t, z) ``planes`` of a lazy (T, Z, C, Y, X) array."""
    import dask.array as da

    if planes is None:
        return canon
    return da.stack([canon[i, j] for i, j in planes])[:, None]


def moments(canon, mode: str, planes=None, scheduler=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`convpaint.normalize.moments` of a lazy (T, Z, C, Y, X) array (of its (t, z)
    ``planes`` only, stacked as (P, 1, ...)): one reduction pass over the same row blocks."""
    sel = _select(canon, planes)
    stats = _row_blocks(sel).map_blocks(_stats_block, chunks=(1, 1, 1, 1, 2), dtype=np.float64)
    _, _, _, ny, nx = sel.shape
    return combine(stats.compute(scheduler=scheduler), mode, ny, nx)


def _row_blocks(x):
    nt, nz, nc, ny, nx = x.shape
    rows = tuple(r.stop - r.start for r in block_rows(ny))
    return x.rechunk((1, 1, 1, rows, nx))


def check_finite_lazy(canon, planes=None, scheduler=None) -> None:
    """Refuse NaN or infinite values in the (planes of a) lazy float image."""
    import dask.array as da

    if canon.dtype.kind != "f":
        return
    sel = _select(canon, planes)
    if bool((~da.isfinite(sel)).any().compute(scheduler=scheduler)):
        raise ValueError("image contains NaN or infinite values; fill or mask them first")


def digest(canon, scheduler=None) -> str:
    """Content hash of a lazy (T, Z, C, Y, X) array: shape, dtype and the bytes of its fixed
    row blocks (the same for any chunking)."""
    blocks = _row_blocks(canon).map_blocks(_hash_block, chunks=(1,) * 5, dtype=np.uint64)
    h = hashlib.sha256(repr((tuple(canon.shape), str(canon.dtype))).encode())
    h.update(np.ascontiguousarray(blocks.compute(scheduler=scheduler)).tobytes())
    return h.hexdigest()


# -- prediction ---------------------------------------------------------------------------
class TileTask:
    """Picklable task: a tile's slab -> labels (T, Z, y, x) or probabilities (K, T, Z, y, x)."""

    def __init__(self, predictor, proba: bool, progress=None) -> None:
        self.predictor = predictor
        self.proba = proba
        self.progress = progress

    def __call__(self, slab: np.ndarray, tile, crop, rows, cols, origin) -> np.ndarray:
        p = self.predictor
        if self.progress is not None:
            self.progress.check()
        block = p.plan.grid.take(np.asarray(slab, dtype=np.float32), rows, cols)
        maps = p.pipeline.block_maps(block, p.full_scale)
        if not self.proba:
            labels = label_block(p, maps, crop, origin)
            self._tick()
            # a plane (y, x) -> (1, 1, y, x); a volume (Z, y, x) -> (1, Z, y, x)
            return labels[None, None] if labels.ndim == 2 else labels[None]
        proba = classify_block(p, maps, crop, origin)
        self._tick()
        # a plane (K, y, x) -> (K, 1, 1, y, x); a volume (K, Z, y, x) -> (K, 1, Z, y, x)
        proba = proba[:, None, None] if proba.ndim == 3 else proba[:, None]
        return proba.astype(np.float32, copy=False)

    def _tick(self) -> None:
        if self.progress is not None:
            self.progress.tick()


class Progress:
    """Cancel checks and ``callback(done, total)`` of a lazy result computed in this process
    (threads); a pickled copy (distributed workers) does neither."""

    def __init__(self, check, callback, total: int) -> None:
        import threading

        self._check, self._callback, self.total = check, callback, total
        self.done = 0
        self._lock = threading.Lock()

    def check(self) -> None:
        if self._check is not None:
            self._check()

    def tick(self) -> None:
        if self._callback is None:
            return
        with self._lock:
            self.done += 1
            done = self.done
        self._callback(done, self.total)

    def __reduce__(self):
        return (Progress, (None, None, self.total))


def predict(predictor, units, jobs, proba: bool, progress: Progress | None = None):
    """The canonical-layout dask array of the ``jobs`` (as :func:`convpaint.prediction.
    tile_jobs`): labels (T, Z, Y, X) or probabilities (K, T, Z, Y, X) of the region."""
    import dask
    import dask.array as da

    grid = predictor.plan.grid
    task = TileTask(predictor, proba, progress)
    chunks: dict[tuple, Any] = {}
    k = len(predictor.classes)
    dtype = np.float32 if proba else predictor.label_dtype
    for unit, tile, crop, where in jobs:
        rows, cols = grid.span(tile, *unit.data.shape[-2:])
        slab = unit.data[..., rows[0], cols[0]]
        origin = (tile.inner[0].start, tile.inner[1].start)
        nz = 1 if isinstance(where[1], int) else crop[0].stop - crop[0].start
        shape = (1, nz, where[2].stop - where[2].start, where[3].stop - where[3].start)
        value = dask.delayed(task, pure=True)(slab, tile, crop, rows, cols, origin)
        arr = da.from_delayed(value, ((k,) if proba else ()) + shape, dtype=dtype)
        key = (
            where[0],
            where[1] if isinstance(where[1], int) else 0,
            where[2].start,
            where[3].start,
        )
        chunks[key] = arr
    nested = _nest(chunks)
    if proba:
        nested = [nested]
    return da.block(nested)


def _nest(chunks: dict[tuple, Any]) -> list:
    """Nested lists [t][z][row][col] of the chunks keyed by (t, z, row start, col start)."""
    axes = [sorted({key[i] for key in chunks}) for i in range(4)]
    return [
        [[[chunks[(t, z, y, x)] for x in axes[3]] for y in axes[2]] for z in axes[1]]
        for t in axes[0]
    ]


__all__ = ["Progress", "TileTask", "as_dask", "digest", "is_lazy", "moments", "predict"]
