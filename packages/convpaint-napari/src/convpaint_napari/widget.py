"""The Convpaint dock widget: pick an image, paint, train, segment (live), save/load models.

GUI wiring only: layers in :mod:`.layers`, the model form in :mod:`.options`,
background jobs in :mod:`.worker`, the computations in :mod:`.tasks`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Labels
from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import convpaint

from . import layers, tasks
from .live import LiveTrigger
from .options import ModelSettings, OptionsForm
from .worker import JobRunner, Outcome, one_line

if TYPE_CHECKING:
    import napari

class ConvpaintWidget(QWidget):
    """Dock widget; ``napari_viewer`` is injected by napari."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.model: convpaint.ConvpaintModel | None = None
        self._model_settings: ModelSettings | None = None
        self._t0 = 0.0
        self.last_outcome: Outcome | None = None  # how the last job ended
        self.runner = JobRunner(self)
        self.live = LiveTrigger(self.live_update, self)
        self.live_timer = self.live.timer
        self._build_ui()
        self._connect()
        self.refresh_layers()

    # -- UI ------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.image_combo = QComboBox()
        self.axes_edit = QLineEdit()
        self.axes_edit.setToolTip(
            "axes of the image: T (time), Z, C (channels), Y, X; e.g. ZYX, TYX, CYX, YXC (RGB)"
        )
        self.annotations_combo = QComboBox()
        self.new_annotations_button = QPushButton("New")
        self.new_annotations_button.setToolTip("add an empty annotations layer for the image")
        ann_row = QHBoxLayout()
        ann_row.addWidget(self.annotations_combo, 1)
        ann_row.addWidget(self.new_annotations_button)
        data = QFormLayout()
        data.addRow("Image", self.image_combo)
        data.addRow("Axes", self.axes_edit)
        data.addRow("Annotations", ann_row)

        self.form = OptionsForm()
        model_box = QGroupBox("Model")
        QVBoxLayout(model_box).addWidget(self.form)

        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("train on the annotations and segment the visible plane")
        self.segment_plane_button = QPushButton("Segment plane")
        self.segment_all_button = QPushButton("Segment all")
        self.live_check = QCheckBox("Live")
        self.live_check.setToolTip("retrain and segment the visible plane after every stroke")
        self.proba_check = QCheckBox("Probabilities")
        self.proba_check.setToolTip("also write class probabilities to a 'probabilities' layer")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.save_button = QPushButton("Save model…")
        self.load_button = QPushButton("Load model…")
        self.status = QLabel("Paint at least two classes, then Train.")
        self.status.setWordWrap(True)

        grid = QGridLayout()
        grid.addWidget(self.train_button, 0, 0)
        grid.addWidget(self.segment_plane_button, 0, 1)
        grid.addWidget(self.segment_all_button, 0, 2)
        grid.addWidget(self.live_check, 1, 0)
        grid.addWidget(self.proba_check, 1, 1, 1, 2)
        grid.addWidget(self.progress, 2, 0, 1, 2)
        grid.addWidget(self.cancel_button, 2, 2)
        grid.addWidget(self.save_button, 3, 0, 1, 2)
        grid.addWidget(self.load_button, 3, 2)

        root = QVBoxLayout(self)
        root.addLayout(data)
        root.addWidget(model_box)
        root.addLayout(grid)
        root.addWidget(self.status)
        root.addStretch(1)

    def _connect(self) -> None:
        events = self.viewer.layers.events
        for event in (events.inserted, events.removed, events.moved):
            event.connect(self.refresh_layers)
        self.viewer.dims.events.current_step.connect(self.live.poke)
        self.image_combo.currentTextChanged.connect(self._on_image_changed)
        self.annotations_combo.currentTextChanged.connect(
            lambda: self.live.watch(self.annotations_layer)
        )
        self.new_annotations_button.clicked.connect(self.new_annotations)
        self.form.changed.connect(self._on_form_changed)
        self.train_button.clicked.connect(self.train)
        self.segment_plane_button.clicked.connect(self.segment_plane)
        self.segment_all_button.clicked.connect(self.segment_all)
        self.live_check.toggled.connect(self.live.set_enabled)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.save_button.clicked.connect(self._save_dialog)
        self.load_button.clicked.connect(self._load_dialog)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)

    # -- layers --------------------------------------------------------------------------
    def refresh_layers(self, event: Any = None) -> None:
        """Fill the layer pickers from the viewer, keeping the current choices."""
        if event is not None and getattr(event, "type", "") == "inserted":
            event.value.events.name.connect(self.refresh_layers)
        images = [lay.name for lay in layers.image_layers(self.viewer) if lay.name != layers.PROBABILITIES]
        labels = [lay.name for lay in layers.labels_layers(self.viewer) if lay.name != layers.SEGMENTATION]
        preferred = layers.ANNOTATIONS if layers.ANNOTATIONS in labels else None
        _refill(self.image_combo, images)
        _refill(self.annotations_combo, labels, preferred)

    @property
    def image_layer(self) -> Image | None:
        return layers.find_layer(self.viewer, self.image_combo.currentText(), Image)

    @property
    def annotations_layer(self) -> Labels | None:
        return layers.find_layer(self.viewer, self.annotations_combo.currentText(), Labels)

    def _on_image_changed(self) -> None:
        image = self.image_layer
        if image is None:
            return
        try:
            self.axes_edit.setText(layers.guess_axes(image))
        except ValueError as exc:
            self.axes_edit.setText("")
            self.status.setText(str(exc))

    def axes(self) -> str:
        image = self._image()
        return layers.check_axes(self.axes_edit.text(), image.data.shape)

    def _image(self) -> Image:
        image = self.image_layer
        if image is None:
            raise ValueError("add or pick an image layer first")
        if image.multiscale:
            raise ValueError(f"image layer {image.name!r} is multiscale; open one resolution level")
        return image

    def new_annotations(self) -> Labels | None:
        """Add an empty annotations layer with the image's spatial shape."""
        try:
            layer = layers.new_annotations(self.viewer, self._image(), self.axes())
        except ValueError as exc:
            self._error(str(exc))
            return None
        self.annotations_combo.setCurrentText(layer.name)
        return layer

    def _annotations(self) -> Labels:
        layer = self.annotations_layer
        if layer is None:
            self.new_annotations()
            raise ValueError("paint scribbles of at least two classes in the new 'annotations' layer")
        return layer

    # -- model ---------------------------------------------------------------------------
    def _on_form_changed(self) -> None:
        try:
            settings = self.form.settings()
        except ValueError:
            settings = None
        if self.model is not None and settings != self._model_settings:
            self.model, self._model_settings = None, None
            self.status.setText("Model settings changed: train again.")
        self.live.stroke()

    def _model_for(self, settings: ModelSettings) -> convpaint.ConvpaintModel | None:
        """The current model when built from ``settings`` (keeps its feature cache)."""
        return self.model if self.model is not None and settings == self._model_settings else None

    def save_model(self, path: str | Path) -> Path | None:
        """Write the trained model to ``path`` (``.npz``)."""
        if self.model is None or self.model.classes_ is None:
            self._error("no trained model to save: train or load one first")
            return None
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        try:
            saved = self.model.save(path)
        except Exception as exc:
            self._error(one_line(exc))
            return None
        self.status.setText(f"Saved the model to {saved.name}.")
        return saved

    def load_model(self, path: str | Path) -> convpaint.ConvpaintModel | None:
        """Load a model file and show its extractor and settings in the form."""
        try:
            model = convpaint.load_model(path)
        except Exception as exc:
            self._error(one_line(exc))
            return None
        self.form.set_settings(ModelSettings.from_model(model))  # emits no "changed"
        self.model, self._model_settings = model, self.form.settings()
        image = self.image_layer
        if image is not None and model.axes_ and len(model.axes_) == image.ndim:
            self.axes_edit.setText(model.axes_)
        classes = ", ".join(str(c) for c in model.classes_)
        self.status.setText(f"Loaded {Path(path).name}: {model.extractor.name}, classes {classes}.")
        return model

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save model", "model.npz", "Model (*.npz)")
        if path:
            self.save_model(path)

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model", "", "Model (*.npz)")
        if path:
            self.load_model(path)

    # -- jobs ----------------------------------------------------------------------------
    def _inputs(self, train: bool) -> tasks.Inputs:
        """Everything a job needs, read in the GUI thread (annotations copied)."""
        image = self._image()
        axes = self.axes()
        settings = self.form.settings()
        annotations = None
        if train:
            ann = self._annotations()
            annotations = np.array(ann.data, copy=True)
        elif self._model_for(settings) is None or self.model.classes_ is None:
            raise ValueError("no trained model: press Train (or load a model) first")
        return tasks.Inputs(
            image=image.data,
            axes=axes,
            annotations=annotations,
            settings=settings,
            model=self._model_for(settings),
            proba=self.proba_check.isChecked(),
        )

    def _start(self, job: str, train: bool, region: tuple | None) -> bool:
        if self.runner.busy:
            self.status.setText(f"{self.runner.job} is running: wait or cancel it.")
            return False
        try:
            inputs = self._inputs(train)
        except ValueError as exc:
            self._error(str(exc))
            return False
        self._t0 = time.perf_counter()
        self._set_busy(True, job)
        self.runner.start(job, lambda cancel, cb: tasks.run(inputs, train, region, cancel, cb))
        return True

    def train(self) -> bool:
        """Train on the annotations, then segment the visible plane."""
        try:
            region = layers.plane_region(self.viewer, self._image(), self.axes())
        except ValueError as exc:
            self._error(str(exc))
            return False
        return self._start("Training", True, region)

    def segment_plane(self) -> bool:
        try:
            region = layers.plane_region(self.viewer, self._image(), self.axes())
        except ValueError as exc:
            self._error(str(exc))
            return False
        return self._start("Segmenting the plane", False, region)

    def segment_all(self) -> bool:
        return self._start("Segmenting all", False, None)

    def cancel(self) -> None:
        self.runner.cancel()

    # -- live mode -----------------------------------------------------------------------
    def live_update(self) -> None:
        """Retrain (features come from the cache) and segment the visible plane."""
        if not self.live.enabled:
            return
        if self.runner.busy:
            self.live.busy()
            if self.runner.job == "Live":
                self.runner.cancel()  # newer strokes supersede it
            return
        ann = self.annotations_layer
        if ann is None:
            return
        values = np.unique(ann.data)
        if np.count_nonzero(values) < 2:
            self.status.setText("Live: paint scribbles of at least two classes.")
            return
        try:
            region = layers.plane_region(self.viewer, self._image(), self.axes())
        except ValueError as exc:
            self._error(str(exc))
            return
        settings_ok = self.model is not None and self.model.classes_ is not None
        train = self.live.dirty or not settings_ok
        self.live.dirty = False
        if not self._start("Live", train, region):
            self.live.dirty = self.live.dirty or train

    # -- results -------------------------------------------------------------------------
    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def _on_finished(self, outcome: Outcome) -> None:
        self._set_busy(False)
        if outcome.status == "done":
            self.progress.setValue(self.progress.maximum())
        seconds = time.perf_counter() - self._t0
        if outcome.status == "cancelled":
            self.status.setText(f"{outcome.job}: cancelled.")
            if outcome.job == "Live":
                self.live.dirty = True
        elif outcome.status == "error":
            self._error(outcome.message)
        else:
            result: tasks.Result = outcome.value
            self.model, self._model_settings = result.model, result.settings
            try:
                self._show(result)
            except Exception as exc:  # e.g. the image layer was removed meanwhile
                self._error(f"could not show the result: {one_line(exc)}")
            else:
                self.status.setText(f"{outcome.job}: done in {seconds:.2f} s. {result.summary}")
        self.last_outcome = outcome
        self.live.job_finished()

    def _show(self, result: tasks.Result) -> None:
        image, axes = self._image(), self.axes()
        ann = self.annotations_layer
        dtype = ann.data.dtype if ann is not None else result.labels.dtype
        region = result.region or ()
        seg = layers.result_labels(self.viewer, image, axes, dtype, colours=ann)
        layers.write(seg, region, result.labels.astype(seg.data.dtype, copy=False))
        if result.proba is not None:
            prob = layers.result_probabilities(self.viewer, image, axes, len(result.proba))
            layers.write(prob, region, result.proba, leading=1)

    def _set_busy(self, busy: bool, job: str = "") -> None:
        for button in (
            self.train_button,
            self.segment_plane_button,
            self.segment_all_button,
            self.save_button,
            self.load_button,
        ):
            button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        # no indeterminate "busy" animation: its repaints cost ~40 % of a short job's time
        self.progress.setMaximum(1)
        self.progress.setValue(0)
        if busy:
            self.status.setText(f"{job}…")

    def _error(self, message: str) -> None:
        self.status.setText(message)
        show_error(f"Convpaint: {message}")


def _refill(combo: QComboBox, names: list[str], preferred: str | None = None) -> None:
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
