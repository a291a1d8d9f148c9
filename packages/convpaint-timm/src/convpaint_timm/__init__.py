"""timm CNN feature extractors for Convpaint: ``efficientnet`` (B0) and ``convnext`` (tiny).

Importing this package does not import torch or timm; that happens when an extractor is built.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from .extractor import ConvNeXtTinyFeatures, EfficientNetB0Features, TimmCNNFeatures
from .weights import WeightsLoadError, WeightsNotFoundError

try:
    __version__ = _version("convpaint-timm")  # the one version of all packages: VERSION
except PackageNotFoundError:  # a source tree on sys.path
    __version__ = "0+unknown"

__all__ = [
    "ConvNeXtTinyFeatures",
    "EfficientNetB0Features",
    "TimmCNNFeatures",
    "WeightsLoadError",
    "WeightsNotFoundError",
]
