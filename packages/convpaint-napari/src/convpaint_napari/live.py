"""When live mode updates: after paint strokes on the watched annotations layer and
plane changes, debounced with a QTimer; strokes during a running job queue one more update."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from napari.layers import Labels
from qtpy.QtCore import QObject, QTimer

DELAY_MS = 150  # debounce of paint events


class LiveTrigger(QObject):
    """Calls ``update()`` ``DELAY_MS`` after the last stroke or plane change while enabled.

    ``dirty``: the annotations changed since the last training started.
    """

    def __init__(self, update: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = False
        self.dirty = True
        self.pending = False
        self.timer = QTimer(self, singleShot=True, interval=DELAY_MS)
        self.timer.timeout.connect(update)
        self._layer: Labels | None = None

    def watch(self, layer: Labels | None) -> None:
        """Follow the paint and data events of ``layer`` (None: none)."""
        if self._layer is not None:
            self._layer.events.paint.disconnect(self.stroke)
            self._layer.events.data.disconnect(self.stroke)
        self._layer = layer
        if layer is not None:
            layer.events.paint.connect(self.stroke)
            layer.events.data.connect(self.stroke)
        self.stroke()

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        if on:
            self.stroke()
        else:
            self.timer.stop()

    def stroke(self, event: Any = None) -> None:
        """The annotations (or the model settings) changed: retrain at the next update."""
        self.dirty = True
        self.poke()

    def poke(self, event: Any = None) -> None:
        """Schedule an update (restarts the debounce timer)."""
        if self.enabled:
            self.timer.start()

    def busy(self) -> None:
        """An update came while a job runs: run one more when it has finished."""
        self.pending = True

    def job_finished(self) -> None:
        if self.pending:
            self.pending = False
            self.poke()
