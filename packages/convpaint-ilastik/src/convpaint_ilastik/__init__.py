"""Classical ilastik filter bank as a convpaint feature extractor."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from .extractor import BACKENDS, SIGMAS, IlastikFilters
from .filters import FILTERS

__all__ = ["BACKENDS", "FILTERS", "SIGMAS", "IlastikFilters"]
try:
    __version__ = _version("convpaint-ilastik")  # the one version of all packages: VERSION
except PackageNotFoundError:  # a source tree on sys.path
    __version__ = "0+unknown"
