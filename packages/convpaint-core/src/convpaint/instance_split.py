"""Instances of one plane or volume, class by class: holes filled, touching objects split.

Per object class: holes up to a size (holding no other object class) are filled; the mask
is cut into connected components, or split by a distance-transform watershed (one basin
per local maximum of the distance map; adjacent basins merge unless both peaks rise a
depth above their saddle: the h-maxima criterion); fragments below ``min_size`` join the
neighbour of the same class they share most border with, or are dropped; ids are made
consecutive.  :func:`convpaint.instances.to_instances` runs this on every plane or volume.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

__all__ = [
    "fill_holes",
    "merge_shallow",
    "merge_small",
    "relabel",
    "unit_instances",
    "watershed_split",
]


def unit_instances(
    unit: np.ndarray,
    classes: tuple[int, ...],
    min_size: int,
    split: bool,
    hole_size: float,
    sampling: tuple[float, ...],
    depth: float,
) -> tuple[np.ndarray, int]:
    """Instances 1..n of one plane or volume, class by class: ``(int32 ids, n)``.

    ``classes``: the object classes; ``split``: watershed-split touching objects;
    ``hole_size``: the largest hole filled (0: none); ``sampling``: the voxel size;
    ``depth``: the h-maxima depth of a split, in units of the smallest voxel edge."""
    unit = np.asarray(unit)
    if unit.dtype.kind == "f":
        unit = unit.astype(np.int64)
    out = np.zeros(unit.shape, np.int32)
    structure = ndimage.generate_binary_structure(unit.ndim, unit.ndim)
    objects = np.isin(unit, classes) if hole_size > 0 else None
    n = 0
    for c in classes:
        mask = unit == c
        if not mask.any():
            continue
        if objects is not None:
            mask = fill_holes(mask, objects & ~mask, hole_size)
        if split:
            lab = watershed_split(mask, structure, sampling, depth)
        else:
            lab = ndimage.label(mask, structure=structure)[0]
        if min_size > 1:
            lab = merge_small(lab, min_size, structure)
        lab, k = relabel(lab)
        out[lab > 0] = lab[lab > 0] + n
        n += k
    return out, n


def fill_holes(mask: np.ndarray, others: np.ndarray, max_size: float) -> np.ndarray:
    """Fill holes (background pockets off the border) of at most ``max_size`` pixels that
    hold no pixel of another object class."""
    holes, n = ndimage.label(~mask)  # face connectivity: the complement of full
    if n == 0:
        return mask
    sizes = np.bincount(holes.ravel(), minlength=n + 1)
    bad = np.bincount(holes[others], minlength=n + 1) > 0
    for axis in range(mask.ndim):  # pockets touching the border are outside, not holes
        for edge in (0, -1):
            bad[np.take(holes, edge, axis=axis)] = True
    fill = (sizes <= max_size) & ~bad
    fill[0] = False
    return mask | fill[holes]


def watershed_split(
    mask: np.ndarray, structure: np.ndarray, sampling: tuple[float, ...], depth: float
) -> np.ndarray:
    """Distance watershed: one basin per local maximum of the distance map, then adjacent
    basins merged unless both peaks rise ``depth`` above their saddle (the h-maxima
    criterion, without h_maxima's global sort)."""
    from skimage.segmentation import watershed

    dist = ndimage.distance_transform_edt(mask, sampling=sampling)
    peaks = (dist == ndimage.maximum_filter(dist, footprint=structure)) & mask
    markers, n = ndimage.label(peaks, structure=structure)
    lab = watershed(-dist, markers, mask=mask)  # every component holds a maximum: all flooded
    peak = np.zeros(n + 1)
    peak[markers[peaks]] = dist[peaks]  # connected local maxima share their value
    if n > 1:
        lab = merge_shallow(lab, dist, peak, depth * min(sampling), structure)
    return lab


def merge_shallow(
    lab: np.ndarray, dist: np.ndarray, peak: np.ndarray, depth: float, structure: np.ndarray
) -> np.ndarray:
    """Merge adjacent basins (peak values ``peak``), highest saddle first, while the lower
    peak of the two rises less than ``depth`` above the saddle between them."""
    n = len(peak) - 1
    peak = peak.copy()
    keys, saddles = [], []
    centre = np.array(structure.shape) // 2
    for offset in np.argwhere(structure) - centre:
        if tuple(offset) <= (0,) * len(offset):  # each neighbour pair once
            continue
        a = tuple(slice(max(-o, 0), s - max(o, 0)) for o, s in zip(offset, lab.shape, strict=True))
        b = tuple(slice(max(o, 0), s - max(-o, 0)) for o, s in zip(offset, lab.shape, strict=True))
        la, lb = lab[a], lab[b]
        sel = (la != lb) & (la > 0) & (lb > 0)
        if sel.any():
            lo, hi = np.minimum(la[sel], lb[sel]), np.maximum(la[sel], lb[sel])
            keys.append(lo.astype(np.int64) * (n + 1) + hi)
            saddles.append(np.minimum(dist[a][sel], dist[b][sel]))
    if not keys:
        return lab
    key, saddle = np.concatenate(keys), np.concatenate(saddles)
    order = np.lexsort((saddle, key))
    key, saddle = key[order], saddle[order]
    last = np.r_[key[1:] != key[:-1], True]  # the highest saddle of each pair
    key, saddle = key[last], saddle[last]
    parent = np.arange(n + 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for k in np.lexsort((key, -saddle)).tolist():
        ri, rj = root(int(key[k] // (n + 1))), root(int(key[k] % (n + 1)))
        if ri != rj and min(peak[ri], peak[rj]) - saddle[k] < depth:
            ri, rj = min(ri, rj), max(ri, rj)
            parent[rj] = ri
            peak[ri] = max(peak[ri], peak[rj])
    roots = np.array([root(i) for i in range(n + 1)])
    return roots[lab]


def merge_small(lab: np.ndarray, min_size: int, structure: np.ndarray) -> np.ndarray:
    """Smallest first: an instance below ``min_size`` joins the neighbour it shares most
    border with (ties: the lower id) or is dropped when it has none."""
    sizes = np.bincount(lab.ravel())
    small = [int(i) for i in np.argsort(sizes, kind="stable") if i and 0 < sizes[i] < min_size]
    if not small:
        return lab
    boxes: list[Any] = list(ndimage.find_objects(lab))
    for i in small:
        if sizes[i] >= min_size or sizes[i] == 0:  # grew by absorbing a neighbour
            continue
        box = tuple(
            slice(max(s.start - 1, 0), min(s.stop + 1, n))
            for s, n in zip(boxes[i - 1], lab.shape, strict=True)
        )
        region = lab[box]
        own = region == i
        ring = ndimage.binary_dilation(own, structure) & ~own
        neighbours = region[ring]
        neighbours = neighbours[neighbours > 0]
        if neighbours.size:
            target = int(np.argmax(np.bincount(neighbours)))
            region[own] = target
            sizes[target] += sizes[i]
            boxes[target - 1] = tuple(
                slice(min(a.start, b.start), max(a.stop, b.stop))
                for a, b in zip(boxes[target - 1], boxes[i - 1], strict=True)
            )
        else:
            region[own] = 0
        sizes[i] = 0
    return lab


def relabel(lab: np.ndarray) -> tuple[np.ndarray, int]:
    """Consecutive ids 1..k in the order of the old ones (a lookup table: no sort)."""
    present = np.flatnonzero(np.bincount(lab.ravel()))
    present = present[present > 0]
    lookup = np.zeros(int(lab.max(initial=0)) + 1, np.int32)
    lookup[present] = np.arange(1, present.size + 1, dtype=np.int32)
    return lookup[lab], int(present.size)
