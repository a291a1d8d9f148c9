"""A byte-bounded LRU cache of tile features, so that retraining re-uses them.

Entries are :class:`~convpaint.feature_maps.FeatureMaps`: features at their
pyramid resolutions, before upsampling (smaller, and what coarse-to-fine
prediction and training read from).

Entries are keyed by the extractor configuration, a content hash of the
normalised plane (or volume) and the tile's position, never by object
identity: calling ``train`` again with a new array holding the same pixels
finds the features computed before.  Features are a deterministic function
of that key, so a cached tile gives exactly what recomputing it would.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from .feature_maps import FeatureMaps

DEFAULT_CACHE_BYTES = 1024 * 2**20


class Entry(Protocol):
    """Anything else the cache holds: its size, and a way to make it read-only."""

    @property
    def nbytes(self) -> int: ...

    def freeze(self) -> None: ...


class FeatureCache:
    """Least-recently-used store of feature arrays, at most ``max_bytes`` in total.

    ``max_bytes=0`` disables caching.  Thread-safe.  ``hits`` and ``misses``
    count look-ups of tile features (other entries, e.g. normalised planes and training
    samples, are looked up with ``count=False``); :meth:`clear` empties it.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"cache_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, FeatureMaps | np.ndarray | Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, count: bool = True) -> FeatureMaps | np.ndarray | Entry | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += count
                return None
            self._entries.move_to_end(key)
            self.hits += count
            return value

    def put(self, key: Hashable, value: FeatureMaps | np.ndarray | Entry) -> None:
        """Store ``value`` (read-only from now on), evicting the oldest entries to fit."""
        if value.nbytes > self.max_bytes:
            return
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
        else:
            value.freeze()
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._entries[key] = value
            self.nbytes += value.nbytes
            while self.nbytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.nbytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.nbytes = 0

    def __repr__(self) -> str:
        return (
            f"FeatureCache({len(self)} entries, {self.nbytes / 2**20:.1f} of "
            f"{self.max_bytes / 2**20:.0f} MiB, hits={self.hits}, misses={self.misses})"
        )


@dataclass
class Unit:
    """One unit of featurisation: a normalised (C, Y, X) plane or (C, Z, Y, X) volume,
    in memory or lazy (a dask array read tile by tile, never cached)."""

    index: tuple  # where it lies in the canonical (T, Z) axes
    data: Any
    source: np.ndarray | None = field(repr=False)  # contiguous array of the same pixels

    @cached_property
    def digest(self) -> str:
        """Content hash of the pixels (computed once, only when a cache needs it)."""
        src = np.ascontiguousarray(self.source)
        h = hashlib.blake2b(digest_size=16)
        h.update(repr((src.dtype.str, src.shape)).encode())
        h.update(memoryview(src).cast("B"))
        return h.hexdigest()


class TileFeatures:
    """Features of a tile of a unit: from the cache when there, else computed (and stored).

    The grid's halo is the pipeline's plus ``margin``: features come for the tile
    and ``margin`` pixels around it (coarse-to-fine prediction looks there).
    ``store=False`` reads the cache but does not fill it (e.g. whole-image
    predictions larger than the cache).
    """

    def __init__(
        self,
        pipeline,
        grid,
        cache: FeatureCache | None,
        config: str,
        store: bool = True,
        full_scale: float = 1.0,
    ):
        self.full_scale = full_scale
        self.pipeline = pipeline
        self.grid = grid
        self.margin = grid.halo - pipeline.halo
        self.cache = cache if cache is not None and cache.max_bytes > 0 else None
        self.config = config
        self.store = store

    def key(self, unit: Unit, tile) -> tuple:
        """The cache key of the tile's features (content hash of the unit, not identity)."""
        (ys, xs) = tile.inner
        return (self.config, unit.digest, self.grid.tile, self.grid.halo, ys.start, xs.start)

    def maps(self, unit: Unit, tile) -> FeatureMaps:
        """Features of the tile and its margin, at their pyramid resolutions."""
        if self.cache is None or unit.source is None:
            return self.compute(unit, tile)
        key = self.key(unit, tile)
        maps = self.cache.get(key)
        if maps is None:
            maps = self.compute(unit, tile)
            if self.store:
                maps = maps.compact()
                self.cache.put(key, maps)
        return maps

    def __call__(self, unit: Unit, tile) -> np.ndarray:
        """Features of the tile and its margin, (F, [Z,] H + 2 margin, W + 2 margin)."""
        return self.maps(unit, tile).dense()

    def inner(self, unit: Unit, tile) -> np.ndarray:
        """Features of the tile itself, without the margin."""
        feats = self(unit, tile)
        m = self.margin
        return feats[..., m : feats.shape[-2] - m, m : feats.shape[-1] - m] if m else feats

    def compute(self, unit: Unit, tile) -> FeatureMaps:
        return self.pipeline.block_maps(self.grid.block(unit.data, tile), self.full_scale)
