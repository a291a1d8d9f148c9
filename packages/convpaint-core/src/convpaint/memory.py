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

from .cache import FeatureCache
from .plan import TilePlan
from .region import Region
from .volume import tile_bytes

# Peak bytes of featurising one block / bytes of its float32 features, measured with
# ilastik (the widest filter bank): 3.1 for 2-D tiles, 6.8 for volumes (filters on 3-D blocks).
WORK_FACTOR = {2: 3.5, 3: 7.0}
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


def _tile_bytes(plan: TilePlan, zpad: int) -> tuple[int, int]:
    """(float32 features of one tile's block, peak working bytes of featurising it)."""
    n, grid, depth = plan.n_features, plan.grid, plan.depth
    edge = min(grid.tile, max(grid.shape)) + 2 * grid.halo
    feats = 4 * n * depth * edge**2
    if depth > 1:  # volumes: features of the tile only; the working set of convpaint.volume
        tile = min(grid.tile, max(grid.shape))
        work = tile_bytes(tile, depth, n, plan.halo, plan.margin, zpad, planewise=plan.planewise)
        return feats, work
    return feats, int(feats * WORK_FACTOR[2])


def forest_bytes(classifier: Any, n_samples: int, n_classes: int) -> int:
    """Upper estimate of a fitted random forest's nodes: at most one leaf per (bootstrap)
    sample and tree, each node 64 bytes plus its float64 class values."""
    trees = getattr(classifier, "n_estimators", 1)
    trees = trees if isinstance(trees, int) and trees > 0 else 1
    fraction = getattr(classifier, "max_samples", None)
    fraction = fraction if isinstance(fraction, float) and 0 < fraction <= 1 else 0.632
    depth = getattr(classifier, "max_depth", None)
    leaves = max(1, int(fraction * n_samples))
    if isinstance(depth, int) and depth > 0 and depth < 40:
        leaves = min(leaves, 2**depth)
    return trees * (2 * leaves - 1) * (64 + 8 * n_classes)


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


def _tile_hints(plan: TilePlan, work: int) -> list[str]:
    hints = [f"a smaller tile_size= (now {plan.grid.tile} px, {_fmt(work)} per tile)"]
    if plan.workers > 1:
        hints.append(f"workers=1 (now {plan.workers} tiles in parallel)")
    return hints


def check_prediction(
    plan: TilePlan,
    zpad: int,
    cache: FeatureCache,
    canon_shape: tuple[int, ...],
    region: Region,
    out_itemsize: int,
) -> None:
    """Refuse a segment/predict_proba call of ``region`` of a canonical (T, Z, C, Y, X)
    image that cannot fit in memory (``out_itemsize``: bytes per output pixel)."""
    _, nz, c, ny, nx = canon_shape
    volumetric = plan.depth > 1
    n_t, n_z = region.shape[0], (nz if volumetric else region.shape[1])
    feats, work = _tile_bytes(plan, zpad)
    out_px = math.prod(region.shape)
    n_tiles = len(plan.grid.within(region.rows, region.cols)) * n_t * (1 if volumetric else n_z)
    in_flight = min(plan.workers, n_tiles)
    parts = [
        ("normalised image", 4 * c * n_t * n_z * ny * nx, [REGION, LAZY]),
        ("output", out_itemsize * out_px, [REGION, LAZY]),
        (f"features of {in_flight} tile(s) in flight", in_flight * work, _tile_hints(plan, work)),
        ("feature cache", min(max(0, cache.max_bytes - cache.nbytes), n_tiles * feats), [NO_CACHE]),
    ]
    _refuse("segmenting this image", parts)


def check_training(
    plan: TilePlan,
    zpad: int,
    cache: FeatureCache,
    canon_shape: tuple[int, ...],
    annotations: np.ndarray,
    classifier: Any = None,
) -> None:
    """Refuse training on a canonical (T, Z, C, Y, X) image with (T, Z, Y, X) annotations
    that cannot fit in memory (``classifier``: its fitted forest is counted too)."""
    _, nz, c, ny, nx = canon_shape
    volumetric = plan.depth > 1
    labelled = annotations > 0
    planes = labelled.any(axis=(2, 3))
    t_idx, z_idx = np.nonzero(planes)
    if t_idx.size == 0:
        return  # the caller reports empty annotations
    n_t = int(t_idx.max() - t_idx.min() + 1)
    n_z = nz if volumetric else len(t_idx)
    feats, work = _tile_bytes(plan, zpad)
    if volumetric:  # tiles touched by scribbles, per volume or per plane
        masks = [labelled[i].any(axis=0) for i in np.unique(t_idx)]
    else:
        masks = [labelled[i, j] for i, j in zip(t_idx, z_idx, strict=True)]
    n_tiles = sum(len(plan.grid.touching(mask)) for mask in masks)
    in_flight = min(plan.workers, n_tiles)
    n_samples = int(np.count_nonzero(labelled))
    n_classes = max(2, len(np.unique(annotations[labelled][:100_000])))
    few = "fewer scribbled pixels or planes per call"
    forest = ["max_depth= (e.g. 20) or fewer trees (n_estimators=)", few]
    parts = [
        ("normalised image", 4 * c * (n_t if volumetric else 1) * n_z * ny * nx, [few, LAZY]),
        ("training samples", 2 * 4 * n_samples * plan.n_features, [few]),
        (f"features of {in_flight} tile(s) in flight", in_flight * work, _tile_hints(plan, work)),
        ("feature cache", min(max(0, cache.max_bytes - cache.nbytes), n_tiles * feats), [NO_CACHE]),
        ("random forest", forest_bytes(classifier, n_samples, n_classes), forest),
    ]
    _refuse("training on this image", parts)
