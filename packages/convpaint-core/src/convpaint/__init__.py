"""Convpaint: interactive pixel classification with pluggable feature extractors.

Data path: image -> :mod:`~convpaint.axes` / :mod:`~convpaint.normalize` ->
:mod:`~convpaint.pyramid` -> :mod:`~convpaint.tiling` -> :mod:`~convpaint.features`
-> :mod:`~convpaint.classifier` -> labels.
"""

from .cancel import Cancelled
from .extractor import FeatureExtractor
from .hookspecs import hookimpl, hookspec
from .registry import (
    ExtractorConflictError,
    ExtractorNotFoundError,
    ExtractorSpec,
    get_extractor,
    list_extractors,
)

__version__ = "0.1.0"

__all__ = [
    "Cancelled",
    "ConvpaintModel",
    "ExtractorConflictError",
    "ExtractorNotFoundError",
    "ExtractorSpec",
    "FeatureExtractor",
    "get_extractor",
    "hookimpl",
    "hookspec",
    "list_extractors",
    "load_model",
]


def __getattr__(name: str):
    # keep ``import convpaint`` light: the model pulls in scikit-learn
    if name == "ConvpaintModel":
        from .model import ConvpaintModel

        return ConvpaintModel
    if name == "load_model":
        from .model_file import load_model

        return load_model
    raise AttributeError(f"module 'convpaint' has no attribute {name!r}")
