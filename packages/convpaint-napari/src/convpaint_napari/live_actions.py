"""Live mode of the dock widget (a mixin of :class:`.widget.ConvpaintWidget`): an update
after each stroke, the full forest when the user pauses, and the warm-up on opening.

A stroke trains a *draft* forest of ``live_draft_trees`` trees (:mod:`convpaint.progressive`;
0: the full forest at once) on the stroke's samples and segments the field of view with
it; ``REFINE_DELAY_MS`` after that result (:class:`.live.Refinement`) the model's full
forest is fitted on the same samples in the background and its segmentation of the view
replaces the draft's.  The next stroke abandons a refinement still running.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from convpaint.progressive import DRAFT_TREES

from . import results, tasks, view
from .worker import Outcome

WARM_UP_ENV = "CONVPAINT_NAPARI_WARM_UP"  # "0": no warm-up when the widget opens
_warmed: set[str] = set()  # extractors warmed up in this process
_warm_lock = threading.Lock()


def warm_up(extractor: str) -> dict[str, float]:
    """:func:`convpaint.demo.warm_up` once per extractor and process (later calls: {})."""
    with _warm_lock:
        if extractor in _warmed:
            return {}
        _warmed.add(extractor)
    from convpaint.demo import warm_up as demo_warm_up

    return demo_warm_up(extractor)


class LiveActions:
    """Live updates, refinement and warm-up; needs the widget's ``live``, ``runner``,
    ``refinement``, ``pickers``, ``model``, ``_start``, ``settings`` and result layers."""

    live_draft_trees: int = DRAFT_TREES  # trees of the live draft forest (0: no draft)
    last_refined: Outcome | None = None  # how the last refinement ended
    _live_key: Any = None  # (region, model) of the last live job: a repeat is a no-op
    _pending: Any = None  # the ProgressiveFit of the draft last shown
    warm_up_worker: Any = None

    # -- warm-up -------------------------------------------------------------------------
    def start_warm_up(self) -> Any:
        """Warm up the chosen extractor in a napari thread (numba kernels, imports, a
        48 x 48 run), once per process; ``$CONVPAINT_NAPARI_WARM_UP=0`` turns it off."""
        if os.environ.get(WARM_UP_ENV, "1").strip() == "0":
            return None
        try:
            extractor = self.settings().extractor
        except ValueError:
            return None
        from napari.qt.threading import create_worker

        def run() -> dict[str, float]:
            try:
                return warm_up(extractor)
            except Exception:  # noqa: BLE001 -- the first real job reports what is wrong
                return {}

        worker = create_worker(run, _start_thread=False)
        self.warm_up_worker = worker
        worker.start()
        return worker

    # -- live mode -----------------------------------------------------------------------
    def live_update(self) -> None:
        """Retrain (features come from the cache) and segment the field of view."""
        if not self.live.enabled:
            return
        if self.runner.busy:
            self.live.busy()
            if self.runner.job == "Live" and self.live.dirty:
                self.runner.cancel()  # newer strokes supersede it
            return
        ann = self.annotations_layer
        if ann is None:
            return
        if tasks.count_classes(ann.data) < 2:
            self.status.setText("Live: paint scribbles of at least two classes.")
            return
        try:
            region = view.visible_region(self.viewer, self.pickers.image(), self.axes())
        except ValueError as exc:
            self.error(str(exc))
            return
        if region is None:
            return  # the image is out of view
        settings_ok = self.model is not None and self.model.classes_ is not None
        train = self.live.dirty or not settings_ok
        key = (str(region), id(self.model))
        if not train and key == self._live_key:
            return  # this view of this model is what the last live job showed
        self.live.dirty = False
        if self._start("Live", train, region, live=True):
            self._live_key = key
        else:
            self.live.dirty = self.live.dirty or train

    def _live_done(self, outcome: Outcome) -> None:
        """A live job ended: remember what it showed, schedule the full forest."""
        if outcome.status != "done":
            self._live_key = None
            return
        result: tasks.Result = outcome.value
        self._live_key = (str(result.region), id(result.model))
        fit = self._pending = result.refine
        if fit is None or not fit.pending:
            return
        inputs = self._refine_inputs()
        if inputs is None:
            return
        self.refinement.schedule(
            lambda cancel, cb: tasks.refine(fit, inputs, self._refine_region, cancel, cb)
        )

    def pending_fit(self) -> Any:
        """The live draft's :class:`~convpaint.progressive.ProgressiveFit` while the model's
        classifier is still that draft (None otherwise)."""
        fit = self._pending
        if fit is None or not fit.pending or fit.model is not self.model:
            return None
        return fit

    def _refine_inputs(self) -> tasks.Inputs | None:
        try:
            image = self.pickers.image()
            axes = self.axes()
            self._refine_region = view.visible_region(self.viewer, image, axes)
            settings = self.settings()
        except ValueError:
            return None
        return tasks.Inputs(
            image=image.data, axes=axes, settings=settings, outputs=self.outputs.settings()
        )

    def _on_refined(self, outcome: Outcome) -> None:
        """The full forest's segmentation replaces the draft's (unless a stroke came)."""
        self.last_refined = outcome
        if outcome.status == "error":
            self.error(outcome.message)
            return
        if outcome.status != "done" or self.runner.busy or self.refinement.active:
            return
        result: tasks.Result = outcome.value
        if result.model is not self.model:
            return
        try:
            results.show(
                self.viewer, self.pickers.image(), self.axes(), self.annotations_layer,
                result, self.classes.names, self.classes.colors,
            )  # fmt: skip
        except Exception:  # noqa: BLE001 -- e.g. the image layer was removed meanwhile
            return
        self._live_key = (str(result.region), id(result.model))
        self.status.setText(f"Live: {result.summary}")

    def _on_partial(self, result: tasks.Result) -> None:
        """A live job's coarse first answer: shown until its full result replaces it."""
        if self.runner.job != "Live" or result.labels is None:
            return
        try:
            results.show(
                self.viewer, self.pickers.image(), self.axes(), self.annotations_layer,
                result, self.classes.names, self.classes.colors,
            )  # fmt: skip
        except Exception:  # noqa: BLE001 -- the full result (or its error) follows
            return
        self.last_partial = result

    def cancel(self) -> None:
        """Cancel the running job and any refinement."""
        self.refinement.abandon()
        self.runner.cancel()

    # the widget's
    live: Any
    runner: Any
    refinement: Any
    viewer: Any
    pickers: Any
    model: Any
    status: Any
    classes: Any
    outputs: Any
    annotations_layer: Any
    last_partial: Any
    _refine_region: Any = None
    _start: Any
    settings: Any
    axes: Any
    error: Any
