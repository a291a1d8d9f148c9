"""The Project tab's background jobs, mixed into the panel: Train and Segment run on the
host widget's job runner (one job at a time, named ``"Project: ..."``) with progress and
Cancel; when one ends, the trained model goes to the host and a fresh segmentation of
the open image is shown."""

from __future__ import annotations

from functools import partial
from typing import Any

import convpaint

from .project_layers import read_segmentation
from .worker import Outcome

JOB_PREFIX = "Project: "  # names of the jobs this panel runs on the host's runner


class ProjectJobs:
    """Needs the panel's ``host``, ``project``, ``current``, ``layers``, ``table``, its
    controls and ``save_now``, ``refresh``, ``error``, ``selected_names``,
    ``_update_buttons``, ``_classes``."""

    host: Any
    project: convpaint.Project | None
    current: str | None
    layers: Any
    table: Any
    status: Any
    progress: Any
    instances_check: Any
    proba_check: Any
    annotations_layer: Any
    last_outcome: Outcome | None
    _running: bool
    _job_project: convpaint.Project | None
    save_now: Any
    refresh: Any
    error: Any
    selected_names: Any
    _update_buttons: Any
    _classes: Any

    def _start(self, job: str, fn: Any) -> bool:
        runner = self.host.runner
        if runner.busy:
            self.status.setText(f"{runner.job} is running: wait or cancel it.")
            return False
        self._job_project = self.project
        self.progress.setMaximum(1)
        self.progress.setValue(0)
        self.status.setText(f"{job}…")
        runner.start(JOB_PREFIX + job, fn)
        self._running = True
        self._update_buttons()
        return True

    def train(self) -> bool:
        """Train the project's model on every annotated image (saved as model.npz)."""
        project = self.project
        self.save_now()  # the last strokes count
        if project is None or not any(e.annotated for e in project.images):
            self.error("no image has annotations yet: open one and paint two classes")
            return False
        return self._start("training", lambda cancel, cb: project.train(cancel, cb))

    def segment(self, names: list[str] | None = None) -> bool:
        """Segment ``names`` (None: all) to disk; outputs already current are kept."""
        project = self.project
        self.save_now()
        if project is None or not project.model_path.is_file():
            self.error("no trained model in the project: press Train on annotated first")
            return False
        run = partial(
            project.segment, names, progress=False,
            instances=self.instances_check.isChecked(), proba=self.proba_check.isChecked(),
        )  # fmt: skip
        return self._start("segmenting", lambda cancel, cb: run(cancel=cancel, callback=cb))

    def segment_selected(self) -> bool:
        names = self.selected_names()
        if not names:
            self.error("select images in the table first")
            return False
        return self.segment(names)

    def segment_all(self) -> bool:
        return self.segment(None)

    def cancel(self) -> None:
        if self._running:
            self.host.runner.cancel()

    def _on_progress(self, done: int, total: int) -> None:
        if self._running:
            self.progress.setMaximum(max(total, 1))
            self.progress.setValue(done)

    def _on_finished(self, outcome: Outcome) -> None:
        if not self._running:  # the host's job, or another panel's
            self._update_buttons()
            return
        self._running = False
        self.last_outcome = outcome
        job = outcome.job[len(JOB_PREFIX) :]
        if outcome.status == "cancelled":
            self.status.setText(f"{job.capitalize()}: cancelled.")
        elif outcome.status == "error":
            self.error(outcome.message)
        elif job == "training":
            self._set_host_model(outcome.value)
            path = self._job_project.model_path if self._job_project is not None else ""
            self.status.setText(f"Trained on the annotated images; saved {path}.")
        else:
            done = outcome.value or []
            kept = " (the others were up to date)" if len(done) < self.table.rowCount() else ""
            self.status.setText(f"Segmented {len(done)} image(s){kept}.")
            same = self._job_project is self.project
            if (
                same
                and self.current is not None
                and self.current in done
                and self.annotations_layer is not None
            ):
                shape = self.annotations_layer.data.shape
                seg = read_segmentation(self._job_project, self.current, shape)
                if seg is not None:
                    self.layers.show_segmentation(self.current, seg, self._classes())
        if outcome.status == "done":
            self.progress.setValue(self.progress.maximum())
        self.refresh()

    def _set_host_model(self, model: Any) -> None:
        setter = getattr(self.host, "set_model", None)
        if callable(setter):
            setter(model)
        else:
            self.host.model = model
