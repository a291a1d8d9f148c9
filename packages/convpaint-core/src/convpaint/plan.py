"""The tile plan: tile edge, halos, grid and parallel tiles of a call, from explicit settings.

One :class:`TilePlanner` per model holds what the plan depends on (the feature
pipeline and the model's tile settings); :meth:`TilePlanner.plan` gives the
:class:`TilePlan` of one image shape.  Every path (in memory, dask, streamed)
and the memory guard read the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .features import FeaturePipeline, channel_groups
from .tiling import TileGrid, round_up
from .volume import tile_bytes, volume_tile

TRAIN_TILE = 256
MAX_TILE = 2048
MIN_TILE = 16  # smaller tiles spend nearly all their time on halos
TILE_BYTES = 64 * 2**20  # smaller tiles measured faster (cache, parallel tiles)
PARALLEL_BYTES = 2**30  # features of all tiles in flight
FALLBACK_FEATURES = 64  # per extractor call and scale, for extractors that do not say


@dataclass(frozen=True)
class TilePlan:
    """Tiles of one call: the grid (with the pipeline's halo plus the refinement margin),
    the planes per unit (``depth``), features per pixel and tiles computed at once."""

    grid: TileGrid
    depth: int
    n_features: int
    workers: int
    halo: int  # the pipeline's; the grid's halo adds the refinement margin
    planewise: bool = False  # volumes featurised plane by plane (convpaint.projections)

    @property
    def margin(self) -> int:
        return self.grid.halo - self.halo


class TilePlanner:
    """Plans tiles for a pipeline and the model's tile settings (see ``ConvpaintModel``)."""

    def __init__(
        self,
        pipeline: FeaturePipeline,
        *,
        tile_size: int | None,
        volumetric: bool,
        workers: int,
        coarse_to_fine: int,
    ) -> None:
        if tile_size is not None and tile_size < MIN_TILE:
            raise ValueError(
                f"tile_size must be at least {MIN_TILE} px, got {tile_size} (tiny tiles "
                "spend nearly all their time on halos; leave it unset for the default)"
            )
        self.pipeline = pipeline
        self.tile_size = tile_size
        self.volumetric = volumetric
        self.workers = workers
        self.coarse_to_fine = coarse_to_fine

    @property
    def planewise(self) -> bool:
        """Volumes are featurised plane by plane (multi-projection extractors)."""
        return all(p.extractor.planewise for p in self.pipeline.parts)

    @property
    def margin(self) -> int:
        """Pixels beyond a tile whose features coarse-to-fine prediction reads."""
        stride = self.coarse_to_fine
        return round_up(stride, self.pipeline.align) if stride > 1 else 0

    def features_per_pixel(self, n_features: int | None, n_channels: int | None) -> int:
        """The trained feature count; before training, the extractors' own or an estimate."""
        if n_features:
            return int(n_features)
        total = 0
        for part in self.pipeline.parts:
            ex = part.extractor
            per_call: Any = ex.n_features
            ok = isinstance(per_call, int) and per_call > 0
            calls = len(channel_groups(n_channels or 1, int(ex.n_input_channels)))
            total += (int(per_call) if ok else FALLBACK_FEATURES) * calls * len(part.scalings)
        return total

    def tile(self, training: bool, depth: int, n_features: int) -> int:
        """Tile edge; volumetric tiles (all ``depth`` planes) sized by their bytes."""
        p = self.pipeline
        preferred = [q.extractor.tile_size for q in p.parts if q.extractor.tile_size]
        largest = TRAIN_TILE if training else MAX_TILE
        if self.tile_size:
            size = int(self.tile_size)
        elif preferred:
            size = max(preferred)  # global-context extractors: train on the prediction grid
        elif self.volumetric:  # a (Z, tile, tile) block and the 3-D filters' working set
            size = volume_tile(
                depth,
                n_features,
                p.halo,
                self.margin,
                p.zpad,
                p.align,
                largest=largest,
                planewise=self.planewise,
            )
        elif training:
            size = TRAIN_TILE
        else:  # bound the features held per tile (~TILE_BYTES) whatever their number
            size = int(np.clip(np.sqrt(TILE_BYTES / (4 * n_features)), TRAIN_TILE, MAX_TILE))
        return round_up(size, p.align)

    def plan(
        self,
        shape: tuple[int, int],
        *,
        training: bool,
        depth: int = 1,
        n_features: int | None = None,
        n_channels: int | None = None,
    ) -> TilePlan:
        """The plan for (Y, X) planes of ``shape``; ``depth``: planes of a volumetric unit."""
        depth = depth if self.volumetric else 1
        n = self.features_per_pixel(n_features, n_channels)
        sizing = n if self.volumetric else (n_features or 64)
        tile = self.tile(training, depth, sizing)
        halo = self.pipeline.halo
        grid = TileGrid((int(shape[0]), int(shape[1])), tile, halo + self.margin)
        workers = self._workers(grid, depth, n, n_features)
        return TilePlan(grid, depth, n, workers, halo, self.volumetric and self.planewise)

    def _workers(self, grid: TileGrid, depth: int, n: int, trained: int | None) -> int:
        """Parallel tiles, fewer when one tile's features are large (e.g. 1024-feature ViTs,
        volumetric tiles of ``depth`` planes)."""
        if self.volumetric:
            p = self.pipeline
            block = tile_bytes(
                grid.tile, depth, n, p.halo, self.margin, p.zpad, planewise=self.planewise
            )
        elif not trained:
            return self.workers
        else:
            block = 4 * n * (grid.tile + 2 * grid.halo) ** 2
        return max(1, min(self.workers, PARALLEL_BYTES // block))
