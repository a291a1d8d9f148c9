"""The Model tab's actions, mixed into the dock widget: the settings a model is built
from (form, downsample, device), dropping a model when they change, Reset, and saving,
loading or adopting a model (with its classes, smoothing and downsampling)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from napari.layers import Image, Labels
from qtpy.QtWidgets import QFileDialog

import convpaint

from .device import supports_device
from .options import DEFAULT_EXTRACTOR, ModelSettings
from .worker import one_line


class ModelActions:
    """Needs the panel's controls and the widget's ``model``, ``live``, ``runner``,
    ``classes``, ``refresh_layers``, ``_style_layers``."""

    model: convpaint.ConvpaintModel | None
    _model_settings: ModelSettings | None
    form: Any
    outputs: Any
    device_combo: Any
    classes: Any
    live: Any
    runner: Any
    status: Any
    live_check: Any
    image_combo: Any
    annotations_combo: Any
    axes_edit: Any
    image_layer: Any
    set_trained: Any
    error: Any
    refresh_layers: Any
    _style_layers: Any

    def settings(self) -> ModelSettings:
        """The model form with the downsample factor and (when the extractor takes one) the
        device; ValueError naming a badly filled field."""
        s = self.form.settings()
        device = self.device_combo.device() if supports_device(s.extractor) else None
        return replace(s, downsample=self.outputs.downsample.value(), device=device)

    def _drop_model(self, why: str) -> None:
        self.model, self._model_settings = None, None
        self.set_trained(False)
        self.status.setText(why)

    def _on_form_changed(self) -> None:
        try:
            settings = self.settings()
        except ValueError:
            settings = None
        if self.model is not None and settings != self._model_settings:
            self._drop_model("Model settings changed: train again.")
        self.live.stroke()

    def _model_for(self, settings: ModelSettings) -> convpaint.ConvpaintModel | None:
        """The current model when built from ``settings`` (keeps its feature cache)."""
        return self.model if self.model is not None and settings == self._model_settings else None

    def _set_model(self, model: convpaint.ConvpaintModel, settings: ModelSettings) -> None:
        self.model, self._model_settings = model, settings
        self.set_trained(model.classes_ is not None)

    def reset(self) -> None:
        """Forget the model; default settings, outputs and classes (layers stay)."""
        self.runner.cancel()
        self.live_check.setChecked(False)
        names = convpaint.list_extractors()
        default = DEFAULT_EXTRACTOR if DEFAULT_EXTRACTOR in names else (names or [""])[0]
        self.form.set_settings(ModelSettings(default))
        self.outputs.set_model_values(0, 1)
        self.device_combo.set_device("auto")
        self.classes.set_classes({1: "class 1", 2: "class 2"})
        self._drop_model("Reset: default settings, no model. Paint, then Train.")

    def set_model(self, model: convpaint.ConvpaintModel) -> None:
        """Work with ``model`` (loaded, or trained by the Project tab): its settings, smoothing,
        downsampling and classes are shown; the device goes back to auto (what it was
        built with)."""
        self.form.set_settings(ModelSettings.from_model(model))  # emits no "changed"
        self.outputs.set_model_values(model.smooth, model.downsample)
        self.device_combo.blockSignals(True)
        self.device_combo.set_device("auto")
        self.device_combo.blockSignals(False)
        if model.class_names:
            self.classes.set_classes(model.class_names, model.class_colors)
        self._set_model(model, self.settings())
        self._style_layers()
        trained = "trained" if model.classes_ is not None else "untrained"
        self.status.setText(f"Model: {model.extractor.name}, {trained}; Segment or paint more.")

    def select_layers(self, image: Image, annotations: Labels | None) -> None:
        """Work on these layers (e.g. an image opened from the Project tab, whose class
        names fill the class table)."""
        project = getattr(getattr(self, "project_panel", None), "project", None)
        if project is not None and project.class_names:
            self.classes.set_classes(project.class_names, self.classes.colors)
        self.refresh_layers()
        self.image_combo.setCurrentText(image.name)
        if annotations is not None:
            self.annotations_combo.setCurrentText(annotations.name)

    def save_model(self, path: str | Path) -> Path | None:
        """Write the trained model to ``path`` (``.npz``)."""
        if self.model is None or self.model.classes_ is None:
            self.error("no trained model to save: train or load one first")
            return None
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        try:
            self.model.class_names = self.classes.names
            self.model.class_colors = self.classes.colors
            saved = self.model.save(path)
        except Exception as exc:
            self.error(one_line(exc))
            return None
        self.status.setText(f"Saved the model to {saved.name}.")
        return saved

    def load_model(self, path: str | Path) -> convpaint.ConvpaintModel | None:
        """Load a model file and show its extractor, settings and classes."""
        try:
            model = convpaint.load_model(path)
        except Exception as exc:
            self.error(one_line(exc))
            return None
        self.set_model(model)
        image = self.image_layer
        if image is not None and model.axes_ and len(model.axes_) == image.ndim:
            self.axes_edit.setText(model.axes_)
        names = ", ".join(model.class_names.values())
        self.status.setText(f"Loaded {Path(path).name}: {model.extractor.name}, classes {names}.")
        return model

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save model", "model.npz", "Model (*.npz)")
        if path:
            self.save_model(path)

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model", "", "Model (*.npz)")
        if path:
            self.load_model(path)
