"""Classical ilastik filter bank as a convpaint feature extractor."""

from .extractor import BACKENDS, SIGMAS, IlastikFilters
from .filters import FILTERS

__all__ = ["BACKENDS", "FILTERS", "SIGMAS", "IlastikFilters"]
__version__ = "0.1.0"
