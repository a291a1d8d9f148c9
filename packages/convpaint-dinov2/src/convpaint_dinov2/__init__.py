"""Vision-transformer extractors for Convpaint: ``dinov2``, ``dinov3`` and ``uni``."""

from .dinov2 import DinoV2
from .dinov3 import DinoV3
from .uni import UNI
from .weights import WeightsNotFoundError

__all__ = ["UNI", "DinoV2", "DinoV3", "WeightsNotFoundError"]
