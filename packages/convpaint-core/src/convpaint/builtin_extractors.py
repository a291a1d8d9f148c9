"""Extractors that ship with the core: ``raw`` (pixel intensities, the baseline floor)."""

from __future__ import annotations

import numpy as np

from .extractor import FeatureExtractor
from .hookspecs import hookimpl


class RawPixels(FeatureExtractor):
    """The intensities themselves: the floor every extractor is compared with."""

    name = "raw"
    description = "raw pixel intensities (baseline, no filtering)"
    padding = 0
    supports_volume = True

    def extract(self, plane: np.ndarray) -> np.ndarray:
        return np.asarray(plane, dtype=np.float32).copy()

    def extract_volume(self, volume: np.ndarray) -> np.ndarray:
        return np.asarray(volume, dtype=np.float32).copy()


@hookimpl
def convpaint_extractors() -> list[type[FeatureExtractor]]:
    return [RawPixels]
