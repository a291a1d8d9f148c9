"""The Convpaint dock widget: pick an image, paint, train, segment (live), classes,
outputs, model, project and tools.

Wiring only: the controls in :mod:`.panel`, the class table in :mod:`.classes`, the
outputs in :mod:`.outputs`, the device in :mod:`.device`, the layer pickers in
:mod:`.pickers`, result layers in :mod:`.results`, the model form in :mod:`.options`,
background jobs in :mod:`.worker`, live-mode triggers and refinement in :mod:`.live`,
live updates in :mod:`.live_actions` (what is visible: :mod:`.view`), the computations
in :mod:`.tasks`, keys in :mod:`.shortcuts`.
"""

from __future__ import annotations

import time
from functools import partial
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Labels
from qtpy.QtWidgets import QLabel

import convpaint

from . import classes, layers, results, shortcuts, tasks, view
from .live import LiveTrigger, Refinement
from .live_actions import LiveActions
from .model_actions import ModelActions
from .options import ModelSettings
from .panel import ConvpaintPanel
from .pickers import LayerPickers
from .worker import JobRunner, Outcome, one_line

if TYPE_CHECKING:
    import napari


class ConvpaintWidget(LiveActions, ModelActions, ConvpaintPanel):
    """Dock widget; ``napari_viewer`` is injected by napari."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.model: convpaint.ConvpaintModel | None = None
        self._model_settings: ModelSettings | None = None
        self._t0 = 0.0
        self._job = ""
        self._watched: Labels | None = None
        self.last_outcome: Outcome | None = None  # how the last job ended
        self.live_coarse = 0  # > 1: live shows a this-much-coarser segmentation first (off:
        # measured not worth it, docs/benchmarks.md "napari live mode")
        self.last_partial: tasks.Result | None = None  # the last coarse result shown
        self.runner = JobRunner(self)
        self.live = LiveTrigger(self.live_update, self)
        self.live_timer = self.live.timer
        self.refinement = Refinement(self)  # the full forest after a live draft
        self.pickers = LayerPickers(
            napari_viewer, self.image_combo, self.annotations_combo, self.axes_edit
        )
        self.project_panel = self._mount_project()
        self._connect()
        shortcuts.bind(napari_viewer, self)
        self.destroyed.connect(partial(shortcuts.unbind, napari_viewer))
        self.refresh_layers()
        self.start_warm_up()

    def _mount_project(self) -> Any:
        if find_spec(f"{__package__}.project_panel") is None:
            self.project_tab.addWidget(QLabel("Projects need convpaint_napari.project_panel."))
            return None
        from .project_panel import ProjectPanel

        panel = ProjectPanel(self.viewer, host=self)
        self.project_tab.addWidget(panel)
        return panel

    def _connect(self) -> None:
        events = self.viewer.layers.events
        for event in (events.inserted, events.removed, events.moved):
            event.connect(self.refresh_layers)
        self.viewer.dims.events.current_step.connect(self.live.poke)
        view.camera(self.viewer).events.center.connect(self.live.poke)
        view.camera(self.viewer).events.zoom.connect(self.live.poke)
        self.image_combo.currentTextChanged.connect(self._on_image_changed)
        self.annotations_combo.currentTextChanged.connect(self._on_annotations_changed)
        self.axes_edit.textChanged.connect(self._check_layers)
        self.new_annotations_button.clicked.connect(self.new_annotations)
        self.form.changed.connect(self._on_form_changed)
        self.outputs.downsample_changed.connect(self._on_form_changed)
        self.device_combo.currentIndexChanged.connect(self._on_form_changed)
        self.classes.changed.connect(self._on_classes_changed)
        self.train_button.clicked.connect(self.train)
        self.segment_plane_button.clicked.connect(self.segment_plane)
        self.segment_all_button.clicked.connect(self.segment_all)
        self.live_check.toggled.connect(self.live.set_enabled)
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button.clicked.connect(self._save_dialog)
        self.load_button.clicked.connect(self._load_dialog)
        self.reset_button.clicked.connect(self.reset)
        self.suggest_button.clicked.connect(self.suggest)
        self.features_button.clicked.connect(self.show_features)
        self.runner.progress.connect(self.show_progress)
        self.runner.stage.connect(lambda text: self.show_stage(f"{self._job}: {text}…"))
        self.runner.partial.connect(self._on_partial)
        self.runner.finished.connect(self._on_finished)
        self.live.stroked.connect(self.refinement.abandon)
        self.refinement.runner.finished.connect(self._on_refined)

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
        self._check_layers()

    def _on_annotations_changed(self) -> None:
        layer = self.annotations_layer
        if self._watched is not None:
            self._watched.events.selected_label.disconnect(self._on_selected_label)
        self._watched = layer
        if layer is not None:
            layer.events.selected_label.connect(self._on_selected_label)
            values = np.unique(np.asarray(layer.data))
            if not self.classes.ensure(values):
                self._style_layers()
        self._check_layers()
        self.live.watch(layer)

    def _on_selected_label(self, event: Any = None) -> None:
        if self._watched is not None:
            self.classes.ensure([self._watched.selected_label])

    def _check_layers(self) -> str | None:
        """Say at once when the annotations do not fit the image (shape, dtype, axes)."""
        problem = self.pickers.annotations_problem()
        self.show_layer_problem(problem)
        return problem

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
        self._style_layers()
        return layer

    def _annotations(self) -> Labels:
        layer = self.annotations_layer
        if layer is None:
            self.new_annotations()
            raise ValueError(
                "paint scribbles of at least two classes in the new 'annotations' layer"
            )
        return layer

    # -- classes -------------------------------------------------------------------------
    def _style_layers(self) -> None:
        names, colors = self.classes.names, self.classes.colors
        seg = layers.find_layer(self.viewer, layers.SEGMENTATION, Labels)
        for layer in (self.annotations_layer, seg):
            if isinstance(layer, Labels):
                classes.style_layer(layer, names, colors)
        if self.project_panel is not None:  # its "<image> segmentation" layer
            self.project_panel.layers.restyle(names, colors)

    def _on_classes_changed(self) -> None:
        """Class table edits reach the layers, the model and the open project."""
        self._style_layers()
        names, colors = self.classes.names, self.classes.colors
        if self.model is not None:
            self.model.class_names, self.model.class_colors = names, colors
        project = getattr(self.project_panel, "project", None)
        if project is not None and project.class_names != names:
            try:
                settings = dict(project.settings)
                settings["classes"] = {str(v): n for v, n in names.items()}
                project.save_settings(settings)
            except (OSError, TypeError, ValueError) as exc:
                self.error(f"could not store the class names in the project: {one_line(exc)}")

    def select_class(self, value: int) -> None:
        """Paint class ``value`` in the annotations layer (made when there is none)."""
        layer = self.annotations_layer or self.new_annotations()
        if layer is None:
            return
        self.classes.ensure([value])
        layer.selected_label = value
        layer.visible = True  # napari paints only in visible layers
        layer.mode = "paint"
        self.viewer.layers.selection.active = layer
        self.status.setText(f"Painting {self.classes.names.get(value, value)} ({value}).")

    def toggle_layer(self, name: str) -> None:
        if name in self.viewer.layers:
            layer = self.viewer.layers[name]
            layer.visible = not layer.visible

    # -- jobs ----------------------------------------------------------------------------
    def _inputs(self, train: bool, live: bool = False) -> tasks.Inputs:
        """Everything a job needs, read in the GUI thread (annotations copied)."""
        image = self.pickers.image()
        axes = self.axes()
        settings = self.settings()
        model = self._model_for(settings)
        annotations = None
        if train:
            ann = self._annotations()
            problem = self._check_layers()
            if problem is not None:
                raise ValueError(problem)
            annotations = np.array(ann.data, copy=True)
        elif model is None or model.classes_ is None:
            raise ValueError("no trained model: press Train (or load a model) first")
        outputs = self.outputs.settings()
        return tasks.Inputs(
            image=image.data,
            axes=axes,
            annotations=annotations,
            settings=settings,
            model=model,
            outputs=outputs,
            class_names=dict(self.classes.names),
            class_colors=dict(self.classes.colors),
            segment=live or not train or outputs.auto_segment,
            extras=not live,
            coarse=self.live_coarse if live else 0,
            draft_trees=self.live_draft_trees if live else 0,
        )

    def _start(self, job: str, train: bool, region: tuple | None, live: bool = False) -> bool:
        if self.runner.busy:
            self.status.setText(f"{self.runner.job} is running: wait or cancel it.")
            return False
        try:
            inputs = self._inputs(train, live)
        except ValueError as exc:
            self.error(str(exc))
            return False
        if not live:  # the job fits the draft's full forest itself, or trains anew
            inputs.pending = self.pending_fit()
            self.refinement.abandon()
        self._t0, self._job = time.perf_counter(), job
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
        """Train on the annotations, then (Outputs: auto-segment) segment the visible plane."""
        return self._start_on_plane("Training", True)

    def segment_plane(self) -> bool:
        return self._start_on_plane("Segmenting the plane", False)

    def segment_all(self) -> bool:
        return self._start("Segmenting all", False, None)

    # -- tools ---------------------------------------------------------------------------
    def _ready(self) -> bool:
        if self.model is None or self.model.classes_ is None or self.image_layer is None:
            self.error("no trained model: press Train (or load a model) first")
            return False
        return True

    def suggest(self) -> Any:
        """Boxes where the model is least sure (a "suggestions" shapes layer); jumps to the first."""
        if not self._ready():
            return None
        from .suggestions import jump_to, show_suggestions

        try:
            layer = show_suggestions(
                self.viewer, self.model, self.image_layer, self.annotations_layer,
                n=self.suggest_count.value(), axes=self.axes(),
            )  # fmt: skip
        except Exception as exc:
            self.error(one_line(exc))
            return None
        found = list(layer.metadata.get("suggestions", [])) if layer is not None else []
        if found:
            jump_to(self.viewer, found[0])
        self.status.setText(f"{len(found)} suggestions: paint where the boxes are.")
        return layer

    def show_features(self) -> Any:
        """The visible plane's features as RGB (PCA), for the current extractor."""
        try:
            model = self._model_for(self.settings()) or self.settings().build()
            from .feature_view import show_features

            layer = show_features(self.viewer, model, self.image_layer, axes=self.axes())
        except Exception as exc:
            self.error(one_line(exc))
            return None
        self.status.setText(f"Features of {model.extractor.name}: {layer.name}.")
        return layer

    # -- results -------------------------------------------------------------------------
    def _on_finished(self, outcome: Outcome) -> None:
        if outcome.job != self._job:  # a job of the Project tab: it shows its own results
            self.live.job_finished()
            return
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
            self._set_model(result.model, result.settings)
            self.classes.ensure(result.model.classes_)  # values painted in other ways
            try:
                if result.labels is not None:
                    results.show(
                        self.viewer, self.pickers.image(), self.axes(), self.annotations_layer,
                        result, self.classes.names, self.classes.colors,
                    )  # fmt: skip
            except Exception as exc:  # e.g. the image layer was removed meanwhile
                self.error(f"could not show the result: {one_line(exc)}")
            else:
                self.status.setText(f"{outcome.job}: done in {seconds:.2f} s. {result.summary}")
        self.last_outcome = outcome
        if outcome.job == "Live":
            self._live_done(outcome)
        else:
            self._live_key = None
        self.live.job_finished()
