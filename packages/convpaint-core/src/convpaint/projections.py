"""3-D multi-projection features: any 2-D extractor on the xy, xz and yz plane families.

``ConvpaintModel(..., projections=("xy", "xz", "yz"))`` featurises a Z stack as
volumes (tiles of all Z planes, like ``volumetric=True``); each volume block goes
through the 2-D extractor plane by plane along each family -- xy: one call per
z, xz: one per y, yz: one per x -- and the families' features are concatenated
per voxel (``len(projections)`` x the extractor's features).  The paper's
fig. 2K / S4 idea: a voxel sees its neighbourhood across Z too, without a 3-D
network.

Anisotropic stacks: ``z_scale`` (Z voxel size / XY pixel size, e.g. 3 for 0.3 um
pixels and 1 um planes) resamples Z linearly by that factor for the xz and yz
passes, so their planes have square pixels, and samples the features back at
the original planes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .combine import ConcatExtractor
from .extractor import FeatureExtractor

FAMILIES = ("xy", "xz", "yz")
DEFAULT = ("xy",)


def check_projections(projections: Any) -> tuple[str, ...]:
    if isinstance(projections, str):
        projections = (projections,)
    try:
        out = tuple(str(p).lower() for p in projections)
    except TypeError:
        out = ()
    if not out or len(set(out)) != len(out) or set(out) - set(FAMILIES):
        raise ValueError(
            f"projections must be distinct plane families from {FAMILIES}, got {projections!r}"
        )
    return tuple(p for p in FAMILIES if p in out)


def check_z_scale(z_scale: Any) -> float:
    try:
        value = float(z_scale)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(
            f"z_scale must be a positive number (Z step / pixel size), got {z_scale!r}"
        )
    return value


class ProjectionExtractor(FeatureExtractor):
    """A 2-D extractor applied to the plane families ``projections`` of a volume."""

    supports_volume = True

    def __init__(self, base: FeatureExtractor, projections: tuple[str, ...], z_scale: float = 1.0):
        if int(base.patch_size) != 1:
            raise ValueError(
                f"projections need an extractor with per-pixel output (patch_size 1); "
                f"{base.name!r} has patches of {base.patch_size} px"
            )
        self.base = base
        self.projections = projections
        self.z_scale = z_scale
        self.name = base.name  # type: ignore[misc]
        self.n_input_channels = base.n_input_channels  # type: ignore[misc]
        self.rgb = base.rgb  # type: ignore[misc]
        self.padding = int(base.padding)
        self.default_scalings = base.default_scalings
        self.deterministic = base.deterministic
        self.alignment = base.alignment
        self.tile_size = base.tile_size
        n = getattr(base, "n_features", None)
        if isinstance(n, int):
            self.n_features = n * len(projections)

    def extract(self, plane: np.ndarray) -> np.ndarray:
        return self.extract_volume(plane[:, None])[:, 0]

    def extract_volume(self, volume: np.ndarray) -> np.ndarray:
        """(C, Z, H, W) -> (len(projections) * F, Z, H, W)."""
        maps = [self._family(volume, p) for p in self.projections]
        return np.concatenate(maps, axis=0)

    def _family(self, volume: np.ndarray, family: str) -> np.ndarray:
        ex = self.base
        if family == "xy":
            return np.stack([_f32(ex.extract(volume[:, z])) for z in range(volume.shape[1])], 1)
        nz = volume.shape[1]
        vol = _resample_z(volume, self.z_scale) if self.z_scale != 1 else volume
        if family == "xz":  # planes (C, Z, W), one per y
            f = np.stack([_f32(ex.extract(vol[:, :, y])) for y in range(vol.shape[2])], 2)
        else:  # "yz": planes (C, Z, H), one per x
            f = np.stack([_f32(ex.extract(vol[:, :, :, x])) for x in range(vol.shape[3])], 3)
        return _sample_z(f, nz, self.z_scale) if self.z_scale != 1 else f

    def get_options(self) -> dict[str, Any]:
        return self.base.get_options()


def _f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _positions(nz: int, z_scale: float) -> np.ndarray:
    """Original plane k sits at k * z_scale on the resampled axis."""
    return np.arange(nz) * z_scale


def _resample_z(volume: np.ndarray, z_scale: float) -> np.ndarray:
    """Linear interpolation along Z onto a grid of spacing 1 / z_scale planes."""
    nz = volume.shape[1]
    n_new = max(1, int(round((nz - 1) * z_scale)) + 1)
    at = np.arange(n_new) / z_scale
    lo = np.clip(np.floor(at).astype(int), 0, nz - 1)
    hi = np.clip(lo + 1, 0, nz - 1)
    w = (at - lo).astype(np.float32)[None, :, None, None]
    return volume[:, lo] * (1 - w) + volume[:, hi] * w


def _sample_z(features: np.ndarray, nz: int, z_scale: float) -> np.ndarray:
    idx = np.clip(np.round(_positions(nz, z_scale)).astype(int), 0, features.shape[1] - 1)
    return features[:, idx]


def with_projections(
    extractor: FeatureExtractor, projections: tuple[str, ...], z_scale: float = 1.0
) -> FeatureExtractor:
    """``extractor`` itself for ``("xy",)`` planes, else each part wrapped."""
    if projections == DEFAULT and z_scale == 1.0:
        return extractor
    if isinstance(extractor, ConcatExtractor):
        return ConcatExtractor(
            [ProjectionExtractor(p, projections, z_scale) for p in extractor.parts]
        )
    return ProjectionExtractor(extractor, projections, z_scale)
