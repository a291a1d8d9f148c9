"""Entry point of the ``convpaint.extractors`` group; imports no torch or timm."""

from __future__ import annotations

from convpaint import FeatureExtractor, hookimpl

from .extractor import ConvNeXtTinyFeatures, EfficientNetB0Features


@hookimpl
def convpaint_extractors() -> list[type[FeatureExtractor]]:
    return [EfficientNetB0Features, ConvNeXtTinyFeatures]
