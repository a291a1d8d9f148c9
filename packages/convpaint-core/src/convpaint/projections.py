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
    """A 2-D extractor applied to the plane families ``projections`` of a volume.

    Plane by plane (``planewise``): the working set is one plane and its features,
    so :mod:`convpaint.volume` neither slabs Z nor budgets 3-D filters for it; the
    features of a block go straight into one preallocated float32 array, and only
    the planes, rows and columns whose features are kept are featurised.
    """

    supports_volume = True
    planewise = True

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
        n = base_features(base)
        if n:
            self.n_features = n * len(projections)

    def extract(self, plane: np.ndarray) -> np.ndarray:
        return self.extract_volume(plane[:, None])[:, 0]

    def extract_volume(self, volume: np.ndarray) -> np.ndarray:
        """(C, Z, H, W) -> (len(projections) * F, Z, H, W)."""
        return self.extract_volume_interior(volume, (0, 0, 0))

    def extract_volume_interior(
        self, volume: np.ndarray, margin: tuple[int, int, int]
    ) -> np.ndarray:
        """``extract_volume(volume)`` cropped by ``margin`` = (mz, my, mx) on both sides of
        Z, Y and X: xy planes only for the kept z, xz planes for the kept y, yz planes for
        the kept x (same numbers: every plane is featurised whole, then cropped)."""
        mz, my, mx = (int(m) for m in margin)
        _, nz, ny, nx = volume.shape
        if min(nz - 2 * mz, ny - 2 * my, nx - 2 * mx) < 1 or min(margin) < 0:
            raise ValueError(f"margin {margin} leaves nothing of a volume of shape {volume.shape}")
        out: np.ndarray | None = None
        for k, family in enumerate(self.projections):
            for where, f in self._family(volume, family, (mz, my, mx)):
                n = f.shape[0]
                if out is None:  # the first plane tells the feature count
                    shape = (len(self.projections) * n, nz - 2 * mz, ny - 2 * my, nx - 2 * mx)
                    out = np.empty(shape, np.float32)
                out[(slice(k * n, (k + 1) * n), *where)] = f
        assert out is not None
        return out

    def _family(self, volume: np.ndarray, family: str, margin: tuple[int, int, int]):
        """Yield (index into the cropped output, features) for every plane of ``family``."""
        mz, my, mx = margin
        _, nz, ny, nx = volume.shape
        keep = slice(None)
        if family == "xy":  # planes (C, Y, X), one per kept z
            for z in range(mz, nz - mz):
                yield (z - mz, keep, keep), self._plane(volume[:, z], (my, mx))
            return
        if self.z_scale == 1:
            rows, zm = None, mz
        else:  # resampled rows nearest to the kept planes
            n_new = _resampled_planes(nz, self.z_scale)
            rows = np.clip(np.round(_positions(nz, self.z_scale)).astype(int), 0, n_new - 1)
            rows = rows[mz : nz - mz]
            zm = int(min(rows[0], n_new - 1 - rows[-1]))
            rows = rows - zm
        if family == "xz":  # planes (C, Z, X), one per kept y
            for y in range(my, ny - my):
                yield (keep, y - my, keep), self._zplane(volume[:, :, y], zm, mx, rows)
        else:  # "yz": planes (C, Z, Y), one per kept x
            for x in range(mx, nx - mx):
                yield (keep, keep, x - mx), self._zplane(volume[:, :, :, x], zm, my, rows)

    def _zplane(self, plane: np.ndarray, zm: int, m: int, rows: np.ndarray | None) -> np.ndarray:
        if rows is not None:
            plane = _resample_z(plane, self.z_scale)
        f = self._plane(plane, (zm, m))
        return f if rows is None else f[:, rows]

    def _plane(self, plane: np.ndarray, margin: tuple[int, int]) -> np.ndarray:
        """Features of ``plane`` (C, A, B) cropped by ``margin`` (ma, mb) on both sides."""
        # the crop of extract, or less work where the extractor skips its own padding
        return _f32(self.base.extract_interior(np.ascontiguousarray(plane), margin))

    def get_options(self) -> dict[str, Any]:
        return self.base.get_options()


def base_features(ex: FeatureExtractor) -> int | None:
    """Features per call of a 2-D extractor when it says (``n_features`` or
    ``feature_names``), else None."""
    n = ex.n_features
    if isinstance(n, int) and n > 0:
        return n
    names = getattr(ex, "feature_names", None)
    return len(names) if isinstance(names, (list, tuple)) and names else None


def _f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _positions(nz: int, z_scale: float) -> np.ndarray:
    """Original plane k sits at k * z_scale on the resampled axis."""
    return np.arange(nz) * z_scale


def _resampled_planes(nz: int, z_scale: float) -> int:
    return max(1, int(round((nz - 1) * z_scale)) + 1)


def _resample_z(data: np.ndarray, z_scale: float) -> np.ndarray:
    """Linear interpolation of (C, Z, ...) along Z onto a grid of spacing 1 / z_scale planes."""
    nz = data.shape[1]
    at = np.arange(_resampled_planes(nz, z_scale)) / z_scale
    lo = np.clip(np.floor(at).astype(int), 0, nz - 1)
    hi = np.clip(lo + 1, 0, nz - 1)
    w = (at - lo).astype(np.float32).reshape(1, -1, *(1,) * (data.ndim - 2))
    return data[:, lo] * (1 - w) + data[:, hi] * w


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
