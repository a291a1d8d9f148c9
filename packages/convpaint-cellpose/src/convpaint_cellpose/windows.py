"""Overlapping 256x256 windows, as cellpose runs its network, blended with a taper.

cellpose-SAM only accepts 256x256 inputs.  A plane is covered by windows that
overlap by at least ``overlap`` of their size (cellpose's ``tile_overlap``; as few
windows as that allows, where cellpose's ``ceil(1.2 L / 256)`` sometimes takes one more), start
on multiples of the 8-pixel patch grid, and are averaged with cellpose's
sigmoid taper, both at pixel resolution (output maps) and at patch resolution
(encoder tokens).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache

import numpy as np


def starts(length: int, size: int, overlap: float = 0.1, step: int = 8) -> list[int]:
    """Window origins along one axis (``length`` >= ``size``, both multiples of ``step``).

    The fewest evenly spread windows whose neighbours still overlap by ``overlap * size``
    after rounding the origins to the ``step`` grid.
    """
    if length <= size:
        return [0]
    n = math.ceil((length - size) / (size * (1 - overlap) - step)) + 1
    raw = np.linspace(0, length - size, n) / step
    return sorted({int(v) * step for v in np.round(raw)})


def windows(shape: tuple[int, int], size: int, overlap: float = 0.1) -> Iterator[tuple[int, int]]:
    """(y0, x0) of every window over a plane of ``shape``."""
    for y0 in starts(shape[0], size, overlap):
        for x0 in starts(shape[1], size, overlap):
            yield y0, x0


@lru_cache(maxsize=4)
def taper(size: int, patch: int = 1) -> np.ndarray:
    """cellpose's window weight (sigmoid fall-off over the outer ~20 px), block-averaged to patches."""
    centre = np.abs(np.arange(size) - (size - 1) / 2)
    edge = 1 / (1 + np.exp((centre - (size / 2 - 20)) / 7.5))
    mask = (edge[:, None] * edge[None, :]).astype(np.float32)
    n = size // patch
    return mask.reshape(n, patch, n, patch).mean(axis=(1, 3))


class Blender:
    """Weighted average of per-window arrays on a (channels, H, W) canvas."""

    def __init__(self, channels: int, shape: tuple[int, int], size: int, patch: int = 1) -> None:
        self.patch = patch
        self.weight = taper(size, patch)
        self.sum = np.zeros((channels, shape[0] // patch, shape[1] // patch), np.float32)
        self.norm = np.zeros(self.sum.shape[1:], np.float32)

    def add(self, values: np.ndarray, y0: int, x0: int) -> None:
        ny, nx = self.weight.shape
        y, x = y0 // self.patch, x0 // self.patch
        self.sum[:, y : y + ny, x : x + nx] += values * self.weight
        self.norm[y : y + ny, x : x + nx] += self.weight

    def result(self) -> np.ndarray:
        return self.sum / self.norm
