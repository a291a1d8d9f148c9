"""Regions of interest: which planes and which rectangle of an image to predict.

A region indexes the *spatial* axes of an image in the user's axis order, like
NumPy indexing of the label result: ``segment(img, region=R) == segment(img)[R]``.
Integers drop their axis, slices (step 1) keep it.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .axes import SPATIAL, Layout


@dataclass(frozen=True)
class Region:
    """A region in canonical (T, Z, Y, X) coordinates."""

    t: slice
    z: slice
    rows: slice
    cols: slice
    drop: tuple[int, ...]  # positions (in the user's spatial axes) indexed by an integer

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(s.stop - s.start for s in (self.t, self.z, self.rows, self.cols))

    def squeeze(self, result: np.ndarray, leading: int = 0) -> np.ndarray:
        """Drop the integer-indexed axes from a result in the user's axis order."""
        index: list[int | slice] = [slice(None)] * result.ndim
        for axis in self.drop:
            index[leading + axis] = 0
        return result[tuple(index)]


def parse_region(region: Any, layout: Layout, shape: tuple[int, int, int, int]) -> Region:
    """Check ``region`` against the canonical spatial ``shape`` (T, Z, Y, X)."""
    axes = layout.spatial_axes
    if region is None:
        region = ()
    if not isinstance(region, tuple):
        region = (region,)
    if len(region) > len(axes):
        raise ValueError(
            f"region has {len(region)} entries but the image has {len(axes)} spatial axes ({axes})"
        )
    region = region + (slice(None),) * (len(axes) - len(region))
    sel: dict[str, slice] = {}
    drop = []
    for pos, (letter, item) in enumerate(zip(axes, region, strict=True)):
        n = shape[SPATIAL.index(letter)]
        if isinstance(item, slice):
            start, stop, step = item.indices(n)
            if step != 1:
                raise ValueError(f"region slices must have step 1, got {item} for axis {letter}")
            if stop <= start:
                raise ValueError(f"region is empty along axis {letter}: {item} of {n}")
            sel[letter] = slice(start, stop)
            continue
        if isinstance(item, (bool, np.bool_)):
            raise TypeError(
                f"region entries must be integers or slices, got the bool {item!r} for axis "
                f"{letter} (True would mean index 1)"
            )
        try:
            i = operator.index(item)
        except TypeError:
            raise TypeError(
                f"region entries must be integers or slices, got {item!r} for axis {letter}"
            ) from None
        if not -n <= i < n:
            raise IndexError(f"region index {i} is out of range for axis {letter} of size {n}")
        i %= n
        sel[letter] = slice(i, i + 1)
        drop.append(pos)
    full = {letter: slice(0, shape[k]) for k, letter in enumerate(SPATIAL)}
    full.update(sel)
    return Region(full["T"], full["Z"], full["Y"], full["X"], tuple(drop))
