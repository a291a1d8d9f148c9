"""napari plugin for Convpaint: paint scribbles, train, and segment images, Z stacks and
time series in napari (live), with every installed feature extractor.

Modules: :mod:`.widget` (the dock widget), :mod:`.layers` (axes and layers),
:mod:`.options` (model form), :mod:`.worker` (background jobs), :mod:`.tasks`
(the computations), :mod:`.sample_data`.
"""

__version__ = "0.1.0"
