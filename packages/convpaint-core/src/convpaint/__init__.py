"""Convpaint: interactive pixel classification with pluggable feature extractors.

Data path: image -> :mod:`~convpaint.inputs` (one validator for NumPy, dask and zarr)
-> :mod:`~convpaint.units` (normalised planes) -> :mod:`~convpaint.plan` /
:mod:`~convpaint.tiling` (tiles with halos) -> per tile :mod:`~convpaint.features`
(channels, :mod:`~convpaint.pyramid`, extractors) -> :mod:`~convpaint.training` or
:mod:`~convpaint.prediction` (classifier) -> labels (in memory, a dask array of
:mod:`~convpaint.lazy`, or streamed by :mod:`~convpaint.stream`).
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from .cancel import Cancelled
from .extractor import ExtractorError, FeatureExtractor
from .hookspecs import hookimpl, hookspec
from .options import Option
from .pyramid import upsample as upsample_bilinear
from .registry import (
    ExtractorConflictError,
    ExtractorNotFoundError,
    ExtractorSpec,
    get_extractor,
    list_extractors,
)

try:
    __version__ = _version("convpaint-core")  # the one version of all packages: VERSION
except PackageNotFoundError:  # a source tree on sys.path
    __version__ = "0+unknown"

__all__ = [
    "Cancelled",
    "ConvpaintModel",
    "ExtractorConflictError",
    "ExtractorError",
    "ExtractorNotFoundError",
    "ExtractorSpec",
    "FeatureExtractor",
    "FeatureUpsampler",
    "InsufficientMemoryError",
    "Option",
    "Project",
    "Suggestion",
    "UpsamplerError",
    "UpsamplerNotFoundError",
    "UpsamplerSpec",
    "get_extractor",
    "get_upsampler",
    "hookimpl",
    "hookspec",
    "list_extractors",
    "list_upsamplers",
    "load_model",
    "to_instances",
    "uncertainty",
    "upsample_bilinear",
]

# name -> module of the lazily imported parts (scikit-learn, scikit-image, tomli-w);
# no name here may be a submodule's (``convpaint.suggest`` is the module: use model.suggest)
_LAZY = {
    "ConvpaintModel": "model",
    "InsufficientMemoryError": "memory",
    "load_model": "loading",
    "Project": "project",
    "Suggestion": "suggest",
    "uncertainty": "suggest",
    "to_instances": "instances",
    "FeatureUpsampler": "upsampler",
    "UpsamplerError": "upsampler",
    "UpsamplerSpec": "upsampler_registry",
    "UpsamplerNotFoundError": "upsampler_registry",
    "get_upsampler": "upsampler_registry",
    "list_upsamplers": "upsampler_registry",
}


def __getattr__(name: str):
    # keep ``import convpaint`` light: the model pulls in scikit-learn
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'convpaint' has no attribute {name!r}")
