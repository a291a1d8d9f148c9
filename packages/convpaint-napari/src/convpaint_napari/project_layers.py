"""The viewer layers of the image opened from the Project tab: "<name>", "<name>
annotations" (painted; a stroke asks for an autosave within ``AUTOSAVE_MS``) and "<name>
segmentation" (read-only, in the class colours).

Opening the next image reuses these layers when the data fits them (same dimensions, RGB
or not), so their place in the layer list and their display settings stay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from qtpy.QtCore import QObject, QTimer

import convpaint

from .classes import style_layer

ANNOTATIONS_SUFFIX = " annotations"
SEGMENTATION_SUFFIX = " segmentation"
AUTOSAVE_MS = 500  # annotations are saved at most this long after the first unsaved stroke


def layer_axes(axes: str, shape: tuple[int, ...]) -> tuple[bool, list[str]]:
    """(rgb, axis labels of the napari image layer) for an image with ``axes``."""
    rgb = axes.endswith("C") and shape[-1] in (3, 4)
    shown = axes[:-1] if rgb else axes
    return rgb, [a.lower() for a in shown]


def read_segmentation(
    project: convpaint.Project, name: str, shape: tuple[int, ...]
) -> np.ndarray | None:
    """The project's segmentation of ``name`` when there is one of ``shape``, else None."""
    path = project.output_path(name)
    if not path.is_file():
        return None
    from convpaint.io import read_image

    seg = read_image(path)
    return seg if seg.shape == shape else None


def select_in_host(host: Any, image: Any, annotations: Any, axes: str) -> None:
    """Make the host widget work on these layers (its ``select_layers``, else its pickers)."""
    select = getattr(host, "select_layers", None)
    if callable(select):
        select(image, annotations)
        return
    for combo, layer in (
        (getattr(host, "image_combo", None), image),
        (getattr(host, "annotations_combo", None), annotations),
    ):
        if combo is not None:
            combo.setCurrentText(layer.name)
    edit = getattr(host, "axes_edit", None)
    if edit is not None:
        edit.setText(axes)


class ProjectLayers(QObject):
    """The layers of the opened image.  ``save()`` is called ``AUTOSAVE_MS`` after the
    first stroke (or new array) in the annotations layer since the last save; further
    strokes do not postpone it.  ``save`` takes the strokes with :meth:`unsaved`."""

    def __init__(self, viewer: Any, save: Callable[[], Any], parent: QObject | None = None):
        super().__init__(parent)
        self.viewer = viewer
        self.image: Any = None
        self.annotations: Any = None
        self.segmentation: Any = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(AUTOSAVE_MS)
        self.timer.timeout.connect(save)
        self._unsaved = False

    def on_paint(self, event: Any = None) -> None:
        self._unsaved = True
        if not self.timer.isActive():
            self.timer.start()

    def unsaved(self) -> np.ndarray | None:
        """The annotations when painted since the last call, else None (stops the timer)."""
        self.timer.stop()
        if not self._unsaved or self.annotations is None:
            return None
        self._unsaved = False
        return np.asarray(self.annotations.data)

    def show(
        self,
        name: str,
        data: Any,
        axes: str,
        annotations: np.ndarray,
        segmentation: np.ndarray | None = None,
        classes: tuple[Mapping[int, str], Mapping[int, str]] | None = None,
    ) -> Any:
        """Show image ``name`` (``axes`` resolved), its annotations ready to paint, and its
        segmentation hidden (when given; ``classes``: (names, colours) to style it).
        Returns the annotations layer."""
        self.watch(None)
        rgb, labels = layer_axes(axes, tuple(data.shape))
        self.image = self._put(
            self.image, self.viewer.add_image, data, name, rgb=rgb, axis_labels=labels
        )
        if segmentation is None:
            self.remove(self.segmentation)
            self.segmentation = None
        else:
            self.show_segmentation(name, segmentation, classes, visible=False)
        layer = self._put(
            self.annotations, self.viewer.add_labels, annotations,
            name + ANNOTATIONS_SUFFIX, axis_labels=[a.lower() for a in axes if a != "C"],
        )  # fmt: skip
        layer.mode = "paint"
        layer.brush_size = max(2, min(annotations.shape[-2:]) // 60)
        layer.selected_label = 1
        self.watch(layer)
        self.annotations = layer
        self.viewer.layers.selection.active = layer
        return layer

    def show_segmentation(
        self,
        name: str,
        segmentation: np.ndarray,
        classes: tuple[Mapping[int, str], Mapping[int, str]] | None = None,
        visible: bool = True,
    ) -> Any:
        """The "<name> segmentation" layer (read-only, class colours) below the annotations."""
        layer = self._put(
            self.segmentation, self.viewer.add_labels, segmentation,
            name + SEGMENTATION_SUFFIX, opacity=0.5,
        )  # fmt: skip
        layer.editable = False
        layer.visible = visible
        self.segmentation = layer
        if classes is not None:
            style_layer(layer, *classes)
        if self.annotations is not None and self.annotations in self.viewer.layers:
            self.viewer.layers.selection.active = self.annotations
        return layer

    def restyle(self, names: Mapping[int, str], colors: Mapping[int, str]) -> None:
        """The class table changed: recolour the segmentation layer."""
        if self.segmentation is not None and self.segmentation in self.viewer.layers:
            style_layer(self.segmentation, names, colors)

    def watch(self, layer: Any) -> None:
        """Call ``on_paint`` after strokes in ``layer`` (None: stop watching the current
        annotations layer)."""
        if layer is None and self.annotations is not None:
            self.annotations.events.paint.disconnect(self.on_paint)
            self.annotations.events.data.disconnect(self.on_paint)
        if layer is not None:
            layer.events.paint.connect(self.on_paint)
            layer.events.data.connect(self.on_paint)

    def remove(self, layer: Any) -> None:
        if layer is not None and layer in self.viewer.layers:
            self.viewer.layers.remove(layer)

    def _put(self, old: Any, add: Any, data: Any, name: str, **kwargs: Any) -> Any:
        """``data`` in the layer ``old`` when it fits (same dimensions, RGB or not; keeps
        its place and display settings), else in a new layer replacing it."""
        rgb = kwargs.get("rgb", False)
        fits = (
            old is not None
            and old in self.viewer.layers
            and np.ndim(old.data) == np.ndim(data)
            and bool(getattr(old, "rgb", False)) == rgb
        )
        if not fits:
            self.remove(old)
            return add(data, name=name, **kwargs)
        old.data = data
        old.name = name
        if "axis_labels" in kwargs:
            old.axis_labels = kwargs["axis_labels"]
        if hasattr(old, "reset_contrast_limits") and not rgb:
            old.reset_contrast_limits()
        return old
