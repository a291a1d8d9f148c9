"""Vision-transformer extractors for Convpaint: ``dinov2`` and ``uni``."""

from .dinov2 import DinoV2
from .uni import UNI
from .weights import WeightsNotFoundError

__all__ = ["UNI", "DinoV2", "WeightsNotFoundError"]
