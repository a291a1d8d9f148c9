"""napari plugin for Convpaint: paint scribbles, train, and segment images, Z stacks and
time series in napari (live), with every installed feature extractor.

Modules: :mod:`.widget` (the dock widget), :mod:`.panel` (its controls), :mod:`.pickers`
(layer pickers), :mod:`.layers` (axes and layers), :mod:`.options` (model form),
:mod:`.worker` (background jobs), :mod:`.live` (live-mode triggers), :mod:`.tasks`
(the computations), :mod:`.sample_data`.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("convpaint-napari")  # the one version of all packages: VERSION
except PackageNotFoundError:  # a source tree on sys.path
    __version__ = "0+unknown"
