"""VGG16 (ImageNet) feature extractor for Convpaint, registered as ``vgg16``.

Importing this package does not import torch; that happens when an extractor is built.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from .extractor import VGG16Features
from .network import CONV_LAYERS
from .weights import (
    WeightsLoadError,
    WeightsNotFoundError,
    default_weights_path,
    download_weights,
)

try:
    __version__ = _version("convpaint-vgg")  # the one version of all packages: VERSION
except PackageNotFoundError:  # a source tree on sys.path
    __version__ = "0+unknown"

__all__ = [
    "CONV_LAYERS",
    "VGG16Features",
    "WeightsLoadError",
    "WeightsNotFoundError",
    "default_weights_path",
    "download_weights",
]
