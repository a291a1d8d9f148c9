"""Memory guard: refuse a train/segment call whose estimated memory exceeds what is available.

Estimated before anything large is allocated: the normalised float32 copy of the
planes the call needs, the output array, the features of the tiles in flight
(times the extractors' working memory: ``WORK_FACTOR``), the training samples
and what the feature cache may still grow by.  Available memory is
``MemAvailable`` of ``/proc/meminfo`` (capped by a cgroup limit), else
``os.sysconf``; when neither is known the guard lets the call run.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .features import channel_groups
from .tiling import TileGrid

# Peak bytes of featurising one block / bytes of its float32 features, measured with
# ilastik (the widest filter bank): 3.1 for 2-D tiles, 6.8 for volumes (filters on 3-D blocks).
WORK_FACTOR = {2: 3.5, 3: 7.0}
FALLBACK_FEATURES = 64  # per extractor call and scale, for extractors that do not say
GiB = 2**30


class InsufficientMemoryError(MemoryError):
    """The estimated memory of a call exceeds the memory available (nothing was allocated)."""


def available_bytes() -> int | None:
    """Bytes this process can still allocate, or None when unknown."""
    avail = _meminfo_available()
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    limit = _cgroup_headroom()
    if limit is not None:
        avail = limit if avail is None else min(avail, limit)
    return avail


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_headroom() -> int | None:
    """cgroup v2 limit minus usage of this process's cgroup, if it has a limit."""
    try:
        rel = Path("/proc/self/cgroup").read_text().splitlines()[0].split(":", 2)[2]
        base = Path("/sys/fs/cgroup") / rel.lstrip("/")
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((base / "memory.current").read_text()))
    except (OSError, ValueError, IndexError):
        return None


def _fmt(n: float) -> str:
    return f"{n / GiB:.1f} GiB" if n >= 0.1 * GiB else f"{n / 2**20:.0f} MiB"


def features_per_pixel(model: Any) -> int:
    """The model's feature count; before training, the extractors' own or an estimate."""
    if model.n_features_:
        return int(model.n_features_)
    n_channels = model.n_channels_ or 1
    total = 0
    for part in model.pipeline.parts:
        ex = part.extractor
        per_call = getattr(ex, "n_features", None)
        per_call = per_call if isinstance(per_call, int) and per_call > 0 else FALLBACK_FEATURES
        calls = len(channel_groups(n_channels, int(ex.n_input_channels)))
        total += per_call * calls * len(part.scalings)
    return total


def _tile_bytes(model: Any, grid: TileGrid, depth: int) -> tuple[int, int]:
    """(float32 features of one tile's block, peak working bytes of featurising it)."""
    n = features_per_pixel(model)
    edge = min(grid.tile, max(grid.shape)) + 2 * grid.halo
    if model.volumetric:  # features of the tile only; the working set of convpaint.volume
        from .volume import tile_bytes

        tile = min(grid.tile, max(grid.shape))
        p = model.pipeline
        work = tile_bytes(tile, depth, n, p.halo, grid.halo - p.halo, p.zpad)
        return 4 * n * depth * edge**2, work
    feats = 4 * n * depth * edge**2
    return feats, int(feats * WORK_FACTOR[3 if model.volumetric else 2])


def _refuse(what: str, parts: list[tuple[str, int, list[str]]]) -> None:
    """Raise when the parts' bytes exceed the memory available; name the hints of the parts
    that matter (at least a tenth of the total)."""
    needed = sum(n for _, n, _ in parts)
    avail = available_bytes()
    if avail is None or needed <= avail:
        return
    detail = ", ".join(f"{label} {_fmt(n)}" for label, n, _ in parts if n)
    hints = [h for _, n, hs in parts if n >= needed / 10 for h in hs]
    raise InsufficientMemoryError(
        f"{what} needs about {_fmt(needed)} of memory ({detail}) but only {_fmt(avail)} is "
        f"available; options that help: {'; '.join(dict.fromkeys(hints))}"
    )


REGION = "region= to predict a part (a plane, a rectangle) at a time"
LAZY = (
    "for images larger than memory, a lazy input (dask or zarr array) processed block by "
    "block with the output written to a zarr store"
)
NO_CACHE = "cache_bytes=0 (no feature cache)"


def _tile_hints(model: Any, grid: TileGrid, work: int) -> list[str]:
    hints = [f"a smaller tile_size= (now {grid.tile} px, {_fmt(work)} per tile)"]
    if model.workers > 1:
        hints.append(f"workers=1 (now {model.workers} tiles in parallel)")
    return hints


def check_prediction(model: Any, canon_shape: tuple[int, ...], region: Any, proba: bool) -> None:
    """Refuse a segment/predict_proba call of ``region`` (a :class:`~convpaint.region.Region`)
    of a canonical (T, Z, C, Y, X) image that cannot fit in memory."""
    _, nz, c, ny, nx = canon_shape
    n_t, n_z = region.shape[0], (nz if model.volumetric else region.shape[1])
    grid = model._grid((ny, nx), training=False, depth=nz)
    depth = nz if model.volumetric else 1
    feats, work = _tile_bytes(model, grid, depth)
    n_classes = len(model.classes_)
    out_px = math.prod(region.shape)
    from .model import _label_dtype

    itemsize = 4 * n_classes if proba else _label_dtype(model.classes_).itemsize
    n_tiles = len(grid.within(region.rows, region.cols)) * n_t * (1 if model.volumetric else n_z)
    in_flight = min(model._workers_for(grid, nz), n_tiles)
    cache = model.feature_cache
    parts = [
        ("normalised image", 4 * c * n_t * n_z * ny * nx, [REGION, LAZY]),
        ("output", itemsize * out_px, [REGION, LAZY]),
        (
            f"features of {in_flight} tile(s) in flight",
            in_flight * work,
            _tile_hints(model, grid, work),
        ),
        ("feature cache", min(max(0, cache.max_bytes - cache.nbytes), n_tiles * feats), [NO_CACHE]),
    ]
    _refuse("segmenting this image", parts)


def check_training(model: Any, canon_shape: tuple[int, ...], annotations: np.ndarray) -> None:
    """Refuse training on a canonical (T, Z, C, Y, X) image with (T, Z, Y, X) annotations
    that cannot fit in memory."""
    _, nz, c, ny, nx = canon_shape
    labelled = annotations > 0
    planes = labelled.any(axis=(2, 3))
    t_idx, z_idx = np.nonzero(planes)
    if t_idx.size == 0:
        return  # the caller reports empty annotations
    n_t = int(t_idx.max() - t_idx.min() + 1)
    n_z = nz if model.volumetric else int(z_idx.max() - z_idx.min() + 1)
    grid = model._grid((ny, nx), training=True, depth=nz)
    depth = nz if model.volumetric else 1
    feats, work = _tile_bytes(model, grid, depth)
    if model.volumetric:  # tiles touched by scribbles, per volume or per plane
        masks = [labelled[i].any(axis=0) for i in np.unique(t_idx)]
    else:
        masks = [labelled[i, j] for i, j in zip(t_idx, z_idx, strict=True)]
    n_tiles = sum(len(grid.touching(mask)) for mask in masks)
    in_flight = min(model._workers_for(grid, nz) if model.volumetric else model.workers, n_tiles)
    cache = model.feature_cache
    n_samples = int(np.count_nonzero(labelled))
    few = "fewer scribbled pixels or planes per call"
    parts = [
        ("normalised image", 4 * c * n_t * n_z * ny * nx, [few, LAZY]),
        ("training samples", 2 * 4 * n_samples * features_per_pixel(model), [few]),
        (
            f"features of {in_flight} tile(s) in flight",
            in_flight * work,
            _tile_hints(model, grid, work),
        ),
        ("feature cache", min(max(0, cache.max_bytes - cache.nbytes), n_tiles * feats), [NO_CACHE]),
    ]
    _refuse("training on this image", parts)
