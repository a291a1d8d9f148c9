"""Registers the ``ilastik`` extractor with convpaint (entry point ``convpaint.extractors``)."""

from __future__ import annotations

import convpaint

from .extractor import IlastikFilters


@convpaint.hookimpl
def convpaint_extractors() -> list[type[convpaint.FeatureExtractor]]:
    return [IlastikFilters]
