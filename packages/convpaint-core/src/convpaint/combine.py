"""The concat combinator: one extractor made of several (``"vgg16+dinov2"``).

The core featurises each part with its own scalings, paddings and patch size
and concatenates the results at pixel resolution.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .extractor import FeatureExtractor


class ConcatExtractor(FeatureExtractor):
    """Concatenation of the features of ``parts`` (in order)."""

    description = "concatenation of several extractors"
    parts: list[FeatureExtractor]

    def __init__(self, parts: list[FeatureExtractor]) -> None:
        if len(parts) < 2:
            raise ValueError("a combined extractor needs at least two parts")
        flat: list[FeatureExtractor] = []
        for part in parts:
            flat.extend(part.parts if isinstance(part, ConcatExtractor) else [part])
        self.parts = flat
        self.name = "+".join(p.name for p in flat)  # type: ignore[misc]
        self.padding = max(p.padding for p in flat)
        self.patch_size = max(p.patch_size for p in flat)
        self.deterministic = all(p.deterministic for p in flat)

    def extract(self, plane: np.ndarray) -> np.ndarray:
        raise TypeError("ConcatExtractor is featurised part by part by convpaint.features")

    def get_options(self) -> dict[str, Any]:
        return {p.name: p.get_options() for p in self.parts}
