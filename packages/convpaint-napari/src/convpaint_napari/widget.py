"""The Convpaint dock widget: pick an image, paint, train, segment (live), save/load models.

Wiring only: the controls in :mod:`.panel`, the layer pickers in :mod:`.pickers`, layers
in :mod:`.layers`, the model form in :mod:`.options`, background jobs in :mod:`.worker`,
live-mode triggers in :mod:`.live`, the computations in :mod:`.tasks`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Labels
from qtpy.QtWidgets import QFileDialog

import convpaint

from . import layers, tasks
from .live import LiveTrigger
from .options import ModelSettings
from .panel import ConvpaintPanel
from .pickers import LayerPickers
from .worker import JobRunner, Outcome, one_line

if TYPE_CHECKING:
    import napari


class ConvpaintWidget(ConvpaintPanel):
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
        self.pickers = LayerPickers(
            napari_viewer, self.image_combo, self.annotations_combo, self.axes_edit
        )
        self._connect()
        self.refresh_layers()

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
        self.runner.progress.connect(self.show_progress)
        self.runner.finished.connect(self._on_finished)

    # -- layers --------------------------------------------------------------------------
    def refresh_layers(self, event: Any = None) -> None:
        """Fill the layer pickers from the viewer, keeping the current choices."""
        if event is not None and getattr(event, "type", "") == "inserted":
            event.value.events.name.connect(self.refresh_layers)
        self.pickers.refill()

    @property
    def image_layer(self) -> Image | None:
        return self.pickers.image_layer

    @property
    def annotations_layer(self) -> Labels | None:
        return self.pickers.annotations_layer

    def _on_image_changed(self) -> None:
        problem = self.pickers.guess_axes()
        if problem is not None:
            self.status.setText(problem)

    def axes(self) -> str:
        return self.pickers.axes()

    def new_annotations(self) -> Labels | None:
        """Add an empty annotations layer with the image's spatial shape."""
        try:
            layer = self.pickers.new_annotations()
        except ValueError as exc:
            self.error(str(exc))
            return None
        self.annotations_combo.setCurrentText(layer.name)
        return layer

    def _annotations(self) -> Labels:
        layer = self.annotations_layer
        if layer is None:
            self.new_annotations()
            raise ValueError(
                "paint scribbles of at least two classes in the new 'annotations' layer"
            )
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
            self.error("no trained model to save: train or load one first")
            return None
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        try:
            saved = self.model.save(path)
        except Exception as exc:
            self.error(one_line(exc))
            return None
        self.status.setText(f"Saved the model to {saved.name}.")
        return saved

    def load_model(self, path: str | Path) -> convpaint.ConvpaintModel | None:
        """Load a model file and show its extractor and settings in the form."""
        try:
            model = convpaint.load_model(path)
        except Exception as exc:
            self.error(one_line(exc))
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
        image = self.pickers.image()
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
            self.error(str(exc))
            return False
        self._t0 = time.perf_counter()
        self.set_busy(True, job)
        self.runner.start(job, lambda cancel, cb: tasks.run(inputs, train, region, cancel, cb))
        return True

    def _start_on_plane(self, job: str, train: bool) -> bool:
        try:
            region = self.pickers.plane_region()
        except ValueError as exc:
            self.error(str(exc))
            return False
        return self._start(job, train, region)

    def train(self) -> bool:
        """Train on the annotations, then segment the visible plane."""
        return self._start_on_plane("Training", True)

    def segment_plane(self) -> bool:
        return self._start_on_plane("Segmenting the plane", False)

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
            region = self.pickers.plane_region()
        except ValueError as exc:
            self.error(str(exc))
            return
        settings_ok = self.model is not None and self.model.classes_ is not None
        train = self.live.dirty or not settings_ok
        self.live.dirty = False
        if not self._start("Live", train, region):
            self.live.dirty = self.live.dirty or train

    # -- results -------------------------------------------------------------------------
    def _on_finished(self, outcome: Outcome) -> None:
        self.set_busy(False)
        if outcome.status == "done":
            self.progress.setValue(self.progress.maximum())
        seconds = time.perf_counter() - self._t0
        if outcome.status == "cancelled":
            self.status.setText(f"{outcome.job}: cancelled.")
            if outcome.job == "Live":
                self.live.dirty = True
        elif outcome.status == "error":
            self.error(outcome.message)
        else:
            result: tasks.Result = outcome.value
            self.model, self._model_settings = result.model, result.settings
            try:
                image, axes = self.pickers.image(), self.axes()
                layers.show_result(
                    self.viewer,
                    image,
                    axes,
                    self.annotations_layer,
                    result.region,
                    result.labels,
                    result.proba,
                )
            except Exception as exc:  # e.g. the image layer was removed meanwhile
                self.error(f"could not show the result: {one_line(exc)}")
            else:
                self.status.setText(f"{outcome.job}: done in {seconds:.2f} s. {result.summary}")
        self.last_outcome = outcome
        self.live.job_finished()
