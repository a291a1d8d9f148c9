"""The image and annotations pickers, kept in sync with the viewer's layers, and the
image's axes: which layers a job reads."""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image, Labels
from qtpy.QtWidgets import QComboBox, QLineEdit

from . import layers


class LayerPickers:
    """The chosen image layer (with its ``axes``) and annotations layer of ``viewer``."""

    def __init__(
        self,
        viewer: Any,
        image_combo: QComboBox,
        annotations_combo: QComboBox,
        axes_edit: QLineEdit,
    ) -> None:
        self.viewer = viewer
        self.image_combo = image_combo
        self.annotations_combo = annotations_combo
        self.axes_edit = axes_edit

    def names(self) -> tuple[list[str], list[str], str | None]:
        """Image and labels layer names to offer (results left out), preferred annotations."""
        viewer = self.viewer
        images = [
            i.name
            for i in layers.image_layers(viewer)
            if i.name not in layers.RESULTS and not i.name.startswith("features (")
        ]
        labels = [i.name for i in layers.labels_layers(viewer) if i.name not in layers.RESULTS]
        return images, labels, layers.ANNOTATIONS if layers.ANNOTATIONS in labels else None

    def refill(self) -> None:
        """Fill the pickers from the viewer, keeping the current choices."""
        images, labels, preferred = self.names()
        refill(self.image_combo, images)
        refill(self.annotations_combo, labels, preferred)

    @property
    def image_layer(self) -> Image | None:
        return layers.find_layer(self.viewer, self.image_combo.currentText(), Image)

    @property
    def annotations_layer(self) -> Labels | None:
        return layers.find_layer(self.viewer, self.annotations_combo.currentText(), Labels)

    def guess_axes(self) -> str | None:
        """Put the chosen image's axes in the axes field; the reason when they are unknown."""
        image = self.image_layer
        if image is None:
            return None
        try:
            self.axes_edit.setText(layers.guess_axes(image))
        except ValueError as exc:
            self.axes_edit.setText("")
            return str(exc)
        return None

    def image(self) -> Image:
        """The chosen image layer; ValueError when there is none or it is multiscale."""
        image = self.image_layer
        if image is None:
            raise ValueError("add or pick an image layer first")
        if image.multiscale:
            raise ValueError(f"image layer {image.name!r} is multiscale; open one resolution level")
        return image

    def axes(self) -> str:
        """The axes field, checked against the image's shape (ValueError naming both)."""
        return layers.check_axes(self.axes_edit.text(), self.image().data.shape)

    def annotations_problem(self) -> str | None:
        """Why the chosen annotations layer cannot be used with the image (None: it can)."""
        ann, image = self.annotations_layer, self.image_layer
        if ann is None or image is None:
            return None
        try:
            shape = layers.spatial_shape(image.data.shape, self.axes())
        except ValueError as exc:
            return str(exc)
        if tuple(ann.data.shape) != shape:
            return (
                f"annotations layer {ann.name!r} has shape {tuple(ann.data.shape)} but image "
                f"{image.name!r} ({self.axes()}) needs {shape}: pick another layer or press New"
            )
        if np.dtype(ann.data.dtype).kind not in "iu":
            return f"annotations layer {ann.name!r} is not an integer image ({ann.data.dtype})"
        return None

    def plane_region(self) -> tuple[int | slice, ...]:
        """The region of the image that the viewer shows (see :func:`.layers.plane_region`)."""
        return layers.plane_region(self.viewer, self.image(), self.axes())

    def new_annotations(self) -> Labels:
        """Add an empty annotations layer with the image's spatial shape."""
        return layers.new_annotations(self.viewer, self.image(), self.axes())


def refill(combo: QComboBox, names: list[str], preferred: str | None = None) -> None:
    """Set the items of ``combo``, keeping its choice; emits ``currentTextChanged`` once
    when the choice changes."""
    current = combo.currentText()
    if [combo.itemText(i) for i in range(combo.count())] != names:
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(names)
        choice = current if current in names else (preferred or (names[0] if names else ""))
        combo.setCurrentIndex(names.index(choice) if choice in names else -1)
        combo.blockSignals(False)
    if combo.currentText() != current:
        combo.currentTextChanged.emit(combo.currentText())
