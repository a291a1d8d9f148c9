"""VGG16 (ImageNet) feature extractor for Convpaint, registered as ``vgg16``.

Importing this package does not import torch; that happens when an extractor is built.
"""

from .extractor import VGG16Features
from .network import CONV_LAYERS
from .weights import (
    WeightsLoadError,
    WeightsNotFoundError,
    default_weights_path,
    download_weights,
)

__version__ = "0.1.0"

__all__ = [
    "CONV_LAYERS",
    "VGG16Features",
    "WeightsLoadError",
    "WeightsNotFoundError",
    "default_weights_path",
    "download_weights",
]
