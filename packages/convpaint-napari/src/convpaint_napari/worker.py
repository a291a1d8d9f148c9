"""Background jobs: one napari thread worker at a time, with progress, cancel and
one-line errors (the viewer never freezes and never prints a traceback)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from napari.qt.threading import create_worker
from qtpy.QtCore import QObject, Signal

import convpaint

# fn(cancel, callback) -> result; cancel: threading.Event, callback(done, total)
# (a :class:`Reporter`: ``callback.stage(text)`` names the step that follows)
JobFunction = Callable[[threading.Event, Callable[[int, int], None]], Any]


class Reporter:
    """The progress callback of a job: ``reporter(done, total)``, ``reporter.stage(text)``
    (e.g. "fitting the random forest") and ``reporter.partial(value)`` (a first answer
    before the result), all queued to the GUI thread."""

    def __init__(self, progress: Any, stage: Any, partial: Any = None) -> None:
        self._progress, self._stage, self._partial = progress, stage, partial

    def __call__(self, done: int, total: int) -> None:
        self._progress(int(done), int(total))

    def stage(self, text: str) -> None:
        self._stage(str(text))

    def partial(self, value: Any) -> None:
        if self._partial is not None:
            self._partial(value)


@dataclass
class Outcome:
    """How a job ended: ``"done"`` (with ``value``), ``"cancelled"`` or ``"error"``."""

    job: str
    status: str
    value: Any = None
    message: str = ""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when empty)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class JobRunner(QObject):
    """Runs one job at a time in a napari ``thread_worker``.

    ``progress(done, total)``, ``stage(text)``, ``partial(value)`` and ``finished(outcome)``
    are emitted in the GUI thread.
    """

    progress = Signal(int, int)
    stage = Signal(str)
    partial = Signal(object)
    finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker: Any = None
        self._cancel: threading.Event | None = None
        self.job = ""
        self.orphans: set[Any] = set()  # abandoned workers whose threads still run

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def start(self, job: str, fn: JobFunction) -> None:
        """Run ``fn(cancel_event, progress_callback)`` in a worker thread."""
        if self.busy:
            raise RuntimeError(f"{self.job} is still running")
        cancel = threading.Event()
        emit = Reporter(
            self.progress.emit, self.stage.emit, self.partial.emit
        )  # queued to the GUI thread

        def run() -> Outcome:
            try:
                return Outcome(job, "done", fn(cancel, emit))
            except convpaint.Cancelled:
                return Outcome(job, "cancelled")
            except Exception as exc:  # shown as one line by the widget
                return Outcome(job, "error", message=one_line(exc))

        worker = create_worker(run, _start_thread=False)
        worker.returned.connect(self._done)
        self._worker, self._cancel, self.job = worker, cancel, job
        worker.start()

    def cancel(self) -> None:
        """Ask the running job to stop at its next tile."""
        if self._cancel is not None:
            self._cancel.set()

    def abandon(self) -> None:
        """Cancel the running job and forget it at once: the runner is free for the next
        job, the abandoned thread ends on its own and its outcome is never emitted."""
        worker = self._worker
        if worker is None:
            return
        self.cancel()
        worker.returned.disconnect(self._done)
        self.orphans.add(worker)
        worker.finished.connect(lambda: self.orphans.discard(worker))
        self._worker = self._cancel = None

    def _done(self, outcome: Outcome) -> None:
        self._worker = self._cancel = None
        self.finished.emit(outcome)
