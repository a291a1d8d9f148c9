"""Cellpose-SAM features for Convpaint: the ``cellpose`` extractor."""

from .extractor import Cellpose
from .weights import WeightsNotFoundError

__all__ = ["Cellpose", "WeightsNotFoundError"]
