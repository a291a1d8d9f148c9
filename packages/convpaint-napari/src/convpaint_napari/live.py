"""When live mode updates, and the full forest it fits when the user pauses.

:class:`LiveTrigger`: a paint stroke on the watched annotations layer starts an update
at once (the job runs while the canvas redraws the stroke); plane changes, panning,
zooming and setting changes are debounced with a QTimer; strokes during a running job
queue one more update.

:class:`Refinement`: live updates fit a small forest (a *draft*,
:mod:`convpaint.progressive`) and show its result; ``REFINE_DELAY_MS`` after that result,
if no stroke came, the full forest is fitted on the same samples in a second runner and
its result replaces the draft's.  A stroke abandons the refinement at once (its thread
finishes on its own; its result is never installed or shown).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from napari.layers import Labels
from qtpy.QtCore import QObject, Qt, QTimer, Signal

from .worker import JobFunction, JobRunner

DELAY_MS = 150  # debounce of plane/camera/setting changes (strokes start at once)
REFINE_DELAY_MS = 300  # pause after a draft result before the full forest is fitted


class LiveTrigger(QObject):
    """Calls ``update()`` after paint strokes (at once, and again ``DELAY_MS`` later, which
    finds nothing new unless the view moved) and ``DELAY_MS`` after the last plane or
    camera change, while enabled.

    ``dirty``: the annotations changed since the last training started.  ``stroked`` is
    emitted on every change of the annotations (enabled or not).
    """

    stroked = Signal()
    _soon = Signal()  # queued: runs after the event handler that emitted it returns

    def __init__(self, update: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = False
        self.dirty = True
        self.pending = False
        self._update = update
        self.timer = QTimer(self, singleShot=True, interval=DELAY_MS)
        self.timer.timeout.connect(update)
        self._soon.connect(self._update_soon, Qt.ConnectionType.QueuedConnection)
        self._layer: Labels | None = None

    def watch(self, layer: Labels | None) -> None:
        """Follow the paint and data events of ``layer`` (None: none)."""
        if self._layer is not None:
            self._layer.events.paint.disconnect(self.painted)
            self._layer.events.data.disconnect(self.painted)
        self._layer = layer
        if layer is not None:
            layer.events.paint.connect(self.painted)
            layer.events.data.connect(self.painted)
        self.stroke()

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        if on:
            self.stroke()
        else:
            self.timer.stop()

    def painted(self, event: Any = None) -> None:
        """A stroke ended (napari emits ``paint`` once per stroke, before ``data_setitem``
        writes it): update as soon as the event handler has returned -- a posted call,
        queued ahead of the canvas redraw that the stroke requests."""
        self.stroke()
        if self.enabled:
            self._soon.emit()

    def _update_soon(self) -> None:
        if self.enabled:
            self._update()

    def stroke(self, event: Any = None) -> None:
        """The annotations (or the model settings) changed: retrain at the next update."""
        self.dirty = True
        self.stroked.emit()
        self.poke()

    def poke(self, event: Any = None) -> None:
        """Schedule an update (restarts the debounce timer)."""
        if self.enabled:
            self.timer.start()

    def busy(self) -> None:
        """An update came while a job runs: run one more when it has finished."""
        self.pending = True

    def job_finished(self) -> None:
        """The running job ended: a queued update after new strokes runs at once."""
        if self.pending:
            self.pending = False
            if self.dirty and self.enabled:
                self._update()
            else:
                self.poke()


class Refinement(QObject):
    """The full-forest step of live mode, in its own :class:`JobRunner` ("Refine").

    ``schedule(job)`` runs ``job`` (a :data:`JobFunction`) ``REFINE_DELAY_MS`` later
    unless ``abandon()`` comes first; ``runner.finished`` reports it.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner(self)
        self.timer = QTimer(self, singleShot=True, interval=REFINE_DELAY_MS)
        self.timer.timeout.connect(self._start)
        self._job: JobFunction | None = None

    @property
    def active(self) -> bool:
        """A refinement is scheduled or running (abandoned threads not counted)."""
        return self.timer.isActive() or self.runner.busy

    def schedule(self, job: JobFunction) -> None:
        self.abandon()
        self._job = job
        self.timer.start()

    def abandon(self) -> None:
        """Drop the scheduled or running refinement (a new stroke supersedes it)."""
        self.timer.stop()
        self._job = None
        self.runner.abandon()

    def _start(self) -> None:
        if self._job is None:
            return
        if self.runner.busy or self.runner.orphans:  # an abandoned fit still holds the CPU
            self.timer.start()
            return
        job, self._job = self._job, None
        self.runner.start("Refine", job)
