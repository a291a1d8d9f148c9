"""Bounded-memory 3-D features: tiles sized by the bytes of a (Z, tile, tile) block.

A volumetric tile holds every Z plane of its (Y, X) rectangle, so its bytes grow
with the depth of the stack: :func:`volume_tile` picks the tile edge from the
depth, the feature count, the halos and the extractor's working memory.  The
extractor then runs on Z slabs (:func:`extract_volume_at_scale`), each with
``padding`` planes of context, and only the voxels the caller keeps are
returned (:meth:`FeatureExtractor.extract_volume_interior`, by default the crop of
``extract_volume``), so neither the Z halo nor the XY halo is held as features.  Interior
voxels lie ``padding`` or more from every cut, so the numbers equal those of
featurising the whole padded volume at once.

Plane-by-plane extractors (``planewise``: :mod:`convpaint.projections`) hold one
plane's working set at a time: their blocks are not cut into slabs (each slab
would featurise every xz and yz plane again) and their tiles are budgeted by
their features and input only (``planewise=True`` below).
"""

from __future__ import annotations

import numpy as np

from .tiling import _symmetric, round_up

#: bytes of one volumetric tile in flight: its features plus the extractor's working set
VOLUME_TILE_BYTES = 384 * 2**20
#: the same for plane-by-plane extractors (projections): a whole 20 x 128 x 128 stack with
#: 3 x 56 ilastik features in one tile (halos are featurised once per tile, along 3 families)
PROJECTION_TILE_BYTES = 640 * 2**20
#: working bytes of the extractor per float32 input voxel of a slab (ilastik's 3-D bank:
#: at most 7.7 arrays of the slab's size alive at once, sigma 10, measured with tracemalloc)
WORK_ARRAYS = 8
MIN_TILE = 32


def slab_depth(n_z: int, zpad: int, plane_px: int, budget: int = VOLUME_TILE_BYTES // 2) -> int:
    """Planes per extractor call on planes of ``plane_px`` pixels (plus ``2 zpad`` context)."""
    fit = budget // (4 * WORK_ARRAYS * max(1, plane_px)) - 2 * zpad
    # at least 2 zpad planes (when there are): thinner slabs spend most time on context
    return int(np.clip(fit, min(max(1, n_z), max(1, 2 * zpad)), max(1, n_z)))


def tile_bytes(
    tile: int,
    depth: int,
    n_features: int,
    halo: int,
    margin: int,
    zpad: int,
    channels: int = 1,
    *,
    planewise: bool = False,
) -> int:
    """Peak bytes of featurising one volumetric tile of edge ``tile`` and ``depth`` planes.

    Features of the tile plus margin, twice (the extractor's, then the pipeline's
    copy), and the extractor's working set on one slab of the padded block; for a
    ``planewise`` extractor (projections) instead the block with its Z context (the
    pipeline's copies) and the features of its largest plane (an xz or yz plane).
    """
    feats = 2 * 4 * n_features * depth * (tile + 2 * margin) ** 2
    edge = tile + 2 * (halo + margin)
    block = edge**2
    if planewise:
        padded = depth + 2 * zpad
        plane = max(edge, padded) * edge
        work = 4 * channels * (2 * depth + padded) * block + 4 * (n_features + WORK_ARRAYS) * plane
        return feats + work
    slab = slab_depth(depth, zpad, block)
    work = 4 * WORK_ARRAYS * (slab + 2 * zpad) * block + 4 * channels * depth * block
    return feats + work


def volume_tile(
    depth: int,
    n_features: int,
    halo: int,
    margin: int,
    zpad: int,
    align: int,
    budget: int | None = None,
    largest: int = 2048,
    *,
    channels: int = 1,
    planewise: bool = False,
) -> int:
    """Largest tile edge (a multiple of ``align``) whose :func:`tile_bytes` fits ``budget``
    (default :data:`PROJECTION_TILE_BYTES` when ``planewise``, else :data:`VOLUME_TILE_BYTES`)."""
    if budget is None:
        budget = PROJECTION_TILE_BYTES if planewise else VOLUME_TILE_BYTES
    step = max(1, align)
    tile = round_up(MIN_TILE, step)
    args = (depth, n_features, halo, margin, zpad, channels)
    while tile + step <= largest and (
        tile_bytes(tile + step, *args, planewise=planewise) <= budget
    ):
        tile += step
    return tile


def extract_interior(ex, volume: np.ndarray, margin: tuple[int, int, int]) -> np.ndarray:
    """Features of ``volume[:, mz:-mz, my:-my, mx:-mx]`` (margins on both sides of Z, Y, X)."""
    return np.asarray(ex.extract_volume_interior(volume, margin), dtype=np.float32)


def extract_volume_at_scale(ex, small: np.ndarray, crop: int) -> np.ndarray:
    """Features (F, Z, H - 2 crop, W - 2 crop) of a downscaled (C, Z, H, W) block.

    Z gets ``ex.padding`` planes of symmetric context on both ends (as the tile
    halos in Y and X); Z slabs keep the extractor's working memory bounded.
    """
    zpad = int(ex.padding)
    _, n_z, height, width = small.shape
    # plane-by-plane extractors: one slab (slabs would featurise every xz/yz plane again)
    slab = n_z if ex.planewise else slab_depth(n_z, zpad, height * width)
    out = None
    for z0 in range(0, n_z, slab):
        z1 = min(n_z, z0 + slab)
        planes = _symmetric(z0 - zpad, z1 + zpad, n_z)
        block = np.take(small, planes, axis=1)
        f = extract_interior(ex, block, (zpad, crop, crop))
        del block
        if out is None:
            out = np.empty((f.shape[0], n_z, *f.shape[2:]), np.float32)
        out[:, z0:z1] = f
    assert out is not None  # n_z >= 1
    return out


def xy_crop(halo: int, factor: int) -> int:
    """Coarse pixels that may be dropped from each XY side of a block with ``halo`` pixels
    of context, keeping one coarse pixel more when upsampling (``factor`` > 1) needs it."""
    return max(0, halo // factor - (1 if factor > 1 else 0))


__all__ = [
    "PROJECTION_TILE_BYTES",
    "VOLUME_TILE_BYTES",
    "extract_interior",
    "extract_volume_at_scale",
    "slab_depth",
    "tile_bytes",
    "volume_tile",
    "xy_crop",
]
