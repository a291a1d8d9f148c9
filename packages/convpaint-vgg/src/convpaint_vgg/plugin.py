"""Entry point of the ``convpaint.extractors`` group; imports no torch."""

from __future__ import annotations

from convpaint import FeatureExtractor, hookimpl

from .extractor import VGG16Features


@hookimpl
def convpaint_extractors() -> list[type[FeatureExtractor]]:
    return [VGG16Features]
