"""Geometry of one class region: skeletons, seed points and the nearest-border map."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize


def skeleton(region: np.ndarray) -> np.ndarray:
    """1-px skeleton of a 2-D boolean region (the image border counts as a region border)."""
    return skeletonize(np.pad(region, 1))[1:-1, 1:-1]


class ClassGeometry:
    """Skeletons and nearest-border map of one class region, cropped to its bounding box.

    Independent of coverage and seed, so it is computed once per mask (lazily)."""

    def __init__(self, plane: np.ndarray, k: int) -> None:
        full = plane == k
        rows = np.flatnonzero(full.any(axis=1))
        cols = np.flatnonzero(full.any(axis=0))
        self.window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        self.region = full[self.window]
        self.area = int(np.count_nonzero(self.region))
        self._cache: dict[str, np.ndarray] = {}

    def get(self, key: str) -> np.ndarray:
        """``"skel"``, ``"secondary"``, ``"nearest"`` or the points ``"*_pts"`` (cached)."""
        if key not in self._cache:
            if key == "skel":
                value = skeleton(self.region)
            elif key == "secondary":
                dilated = ndimage.binary_dilation(self.get("skel"), np.ones((3, 3), bool))
                value = skeleton(self.region & ~dilated)
            elif key == "nearest":
                # outside the bounding box everything is another class: a 1-px frame is enough
                _, idx = ndimage.distance_transform_edt(np.pad(self.region, 1), return_indices=True)
                value = (idx - 1).astype(np.int32)
            elif key == "skel_pts":
                value = np.argwhere(self.get("skel"))
            elif key == "secondary_pts":
                value = np.argwhere(self.get("secondary"))
            elif key == "rest_pts":
                value = np.argwhere(self.region & ~self.get("skel"))
            else:
                raise KeyError(key)
            self._cache[key] = value
        return self._cache[key]

    @property
    def skel(self) -> np.ndarray:
        return self.get("skel")

    @property
    def secondary(self) -> np.ndarray:
        return self.get("secondary")

    def nearest_border(self, point: np.ndarray) -> tuple[int, int]:
        """Nearest pixel outside the region (window coordinates, may lie outside the window)."""
        idx = self.get("nearest")
        return int(idx[0, point[0] + 1, point[1] + 1]), int(idx[1, point[0] + 1, point[1] + 1])

    def seed_sources(self, kind: str) -> list[str]:
        """The point sets a line of ``kind`` starts from, in order of use."""
        if kind == "skeleton":
            return ["skel_pts"]
        if kind == "secondary":
            return ["secondary_pts"]
        return ["skel_pts", "rest_pts"]  # perpendicular: skeleton seeds first, then the rest
