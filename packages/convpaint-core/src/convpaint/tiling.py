"""Tiles with halos over a 2-D plane.

The plane is padded by ``halo`` on every side (symmetric reflection, the same
as dask's ``boundary="reflect"``); tile ``k`` covers image rows
``[k*tile, (k+1)*tile)`` and is computed from the padded block
``[k*tile, (k+1)*tile + 2*halo)``.  Block origins are therefore multiples of
the alignment whenever ``tile`` and ``halo`` are, which is what the pyramid
needs for exact results.  This is the layout of ``dask.array.map_overlap``
with ``depth=halo``, so a dask path can call the same block function.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


def check_positive(name: str, value: object, optional: bool = False) -> int | None:
    """``value`` as a positive int (None allowed when ``optional``), else a clear error."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def round_up(value: int, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


@dataclass(frozen=True)
class Tile:
    """One tile: where it lies in the image and which padded block feeds it."""

    inner: tuple[slice, slice]  # in image coordinates
    block: tuple[slice, slice]  # in padded-plane coordinates


@dataclass(frozen=True)
class TileGrid:
    """A regular grid of ``tile``-sized tiles over an image of ``shape`` (Y, X)."""

    shape: tuple[int, int]
    tile: int
    halo: int

    def pad(self, plane: np.ndarray) -> np.ndarray:
        """Pad the last two axes of ``plane`` by ``halo`` (symmetric reflection)."""
        width = [(0, 0)] * (plane.ndim - 2) + [(self.halo, self.halo)] * 2
        return np.pad(plane, width, mode="symmetric") if self.halo else plane

    def block(self, plane, tile: Tile) -> np.ndarray:
        """``self.pad(plane)[..., *tile.block]`` without padding the whole plane; ``plane``
        may be lazy (dask, zarr): only the rows and columns the block needs are read."""
        rows, cols = self.span(tile, plane.shape[-2], plane.shape[-1])
        return self.take(np.asarray(plane[..., rows[0], cols[0]]), rows, cols)

    def span(self, tile: Tile, n_rows: int, n_cols: int):
        """((slice read, indices within it) for rows, same for columns) of a tile's block."""
        h = self.halo
        out = []
        for axis, n in zip(tile.block, (n_rows, n_cols), strict=True):
            idx = _symmetric(axis.start - h, axis.stop - h, n)
            lo = int(idx.min())
            out.append((slice(lo, int(idx.max()) + 1), idx - lo))
        return out[0], out[1]

    @staticmethod
    def take(slab: np.ndarray, rows, cols) -> np.ndarray:
        """The block from the ``slab`` read for ``span``'s rows and columns."""
        return np.take(np.take(slab, rows[1], axis=-2), cols[1], axis=-1)

    def within(self, rows: slice, cols: slice) -> list[Tile]:
        """Tiles whose inner region overlaps the rectangle ``rows`` x ``cols``."""
        return [
            tile
            for tile in self
            if tile.inner[0].start < rows.stop
            and rows.start < tile.inner[0].stop
            and tile.inner[1].start < cols.stop
            and cols.start < tile.inner[1].stop
        ]

    def __iter__(self) -> Iterator[Tile]:
        (ny, nx), t, h = self.shape, self.tile, self.halo
        for y0 in range(0, ny, t):
            y1 = min(y0 + t, ny)
            for x0 in range(0, nx, t):
                x1 = min(x0 + t, nx)
                yield Tile(
                    inner=(slice(y0, y1), slice(x0, x1)),
                    block=(slice(y0, y1 + 2 * h), slice(x0, x1 + 2 * h)),
                )

    def __len__(self) -> int:
        return math.ceil(self.shape[0] / self.tile) * math.ceil(self.shape[1] / self.tile)

    def touching(self, mask: np.ndarray) -> list[Tile]:
        """Tiles whose inner region contains a True pixel of ``mask`` (Y, X)."""
        return [tile for tile in self if mask[tile.inner].any()]


def _symmetric(start: int, stop: int, n: int) -> np.ndarray:
    """Indices ``start:stop`` into an axis of length ``n``, reflected like ``np.pad(mode="symmetric")``."""
    idx = np.arange(start, stop) % (2 * n)
    return np.where(idx < n, idx, 2 * n - 1 - idx)
