"""The Project tab: a folder of images trained and segmented together
(:class:`convpaint.Project`).

A table of the project's images (:mod:`.project_table`); one click opens an image with
its annotations (layers named after the image, :mod:`.project_layers`); what is painted
is saved to ``annotations/<image>.tif`` at most ``AUTOSAVE_MS`` after a stroke
(atomically: a crash loses at most the last half second of painting); Train fits the
project's model on every annotated image and saves ``model.npz``; Segment writes
``segmentations/`` (and ``instances/``, ``probabilities/``) in the background with
progress and Cancel, through the host widget's job runner (one job at a time, jobs named
``"Project: ..."``; :mod:`.project_jobs`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import convpaint

from .project_jobs import JOB_PREFIX, ProjectJobs
from .project_layers import ProjectLayers, read_segmentation, select_in_host
from .project_table import ProjectTable
from .worker import Outcome, one_line

__all__ = ["JOB_PREFIX", "ProjectPanel"]  # JOB_PREFIX: from project_jobs


def _control(text: str, tip: str, kind: type = QPushButton) -> Any:
    control = kind(text)
    control.setToolTip(tip)
    return control


class ProjectPanel(ProjectJobs, QWidget):
    """The Project tab.  ``host``: the Convpaint widget (``.model``, ``.runner``;
    optional ``set_model(model)`` and ``select_layers(image, annotations)``)."""

    def __init__(self, viewer: Any, host: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.host = host
        self.project: convpaint.Project | None = None
        self.current: str | None = None  # the image opened in the viewer
        self.layers = ProjectLayers(viewer, self.save_now, self)
        self.autosave_timer = self.layers.timer
        self.last_outcome: Outcome | None = None
        self._running = False  # a job of this panel runs on the host's runner
        self._job_project: convpaint.Project | None = None  # the project it works on
        self._build()
        self._connect()
        self._update_buttons()

    # -- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        self.path_label = QLabel("No project open.")
        self.open_button = _control(
            "Open / create…", "a project folder, or make one of an empty folder or of images"
        )
        self.add_button = _control("Add images…", "list more image files in project.toml")
        self.table = ProjectTable()
        self.previous_button = _control("◀ Previous", "open the previous image")
        self.open_image_button = _control("Open image", "open the selected image")
        self.next_button = _control("Next ▶", "open the next image")
        self.train_button = _control("Train on annotated", "fit the model on every annotated image")
        self.segment_selected_button = _control("Segment selected", "to segmentations/")
        self.segment_all_button = _control("Segment all", "up-to-date outputs are kept")
        self.instances_check = _control("Instances", "also write instances/", QCheckBox)
        self.proba_check = _control("Probabilities", "also write probabilities/", QCheckBox)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.cancel_button = _control("Cancel", "stop the running project job")
        self.status = QLabel("Open or create a project folder.")
        for label in (self.path_label, self.status):
            label.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.add_button)
        grid = QGridLayout()
        rows = [
            (self.previous_button, self.open_image_button, self.next_button),
            (self.train_button, self.segment_selected_button, self.segment_all_button),
            (self.instances_check, self.proba_check),
        ]
        for r, row in enumerate(rows):
            for c, control in enumerate(row):
                grid.addWidget(control, r, c)
        grid.addWidget(self.progress, 3, 0, 1, 2)
        grid.addWidget(self.cancel_button, 3, 2)
        root = QVBoxLayout(self)
        root.addWidget(self.path_label)
        root.addLayout(top)
        root.addWidget(self.table, 1)
        root.addLayout(grid)
        root.addWidget(self.status)

    def _connect(self) -> None:
        self.open_button.clicked.connect(self.open_dialog)
        self.add_button.clicked.connect(self.add_dialog)
        self.table.cellDoubleClicked.connect(
            lambda row, _: self.open_image(self.table.name_at(row))
        )
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.open_image_button.clicked.connect(self._open_selected)
        self.previous_button.clicked.connect(self.previous_image)
        self.next_button.clicked.connect(self.next_image)
        self.train_button.clicked.connect(self.train)
        self.segment_selected_button.clicked.connect(self.segment_selected)
        self.segment_all_button.clicked.connect(self.segment_all)
        self.cancel_button.clicked.connect(self.cancel)
        self.host.runner.progress.connect(self._on_progress)
        self.host.runner.finished.connect(self._on_finished)

    # -- the project ---------------------------------------------------------------------
    def open(self, path: str | Path) -> convpaint.Project | None:
        """Open the project at ``path``; a folder that is not one becomes one (its own
        images, if it holds any, are listed in project.toml)."""
        self.save_now()
        path = Path(path)
        try:
            if not (path / "project.toml").is_file() and path.is_dir():
                from convpaint.project_files import find_images

                own = find_images(path)
                project = convpaint.Project(path, create=True, images=own or None)
            else:
                project = convpaint.Project(path, create=True)
            project.images  # noqa: B018 -- name clashes and unreadable images: refused now
        except Exception as exc:
            self.error(one_line(exc))
            return None
        self.project, self.current = project, None
        self.path_label.setText(f"Project: {project.path}")
        self.refresh()
        n = self.table.rowCount()
        self.status.setText(
            f"{n} image{'s' * (n != 1)}; double-click one to open it."
            if n
            else "No images yet: put them in images/ or press Add images…"
        )
        return project

    def open_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open or create a project folder")
        if path:
            self.open(path)

    def add_images(self, paths: Sequence[str | os.PathLike]) -> list[Path]:
        """List image files in the project; returns the new ones."""
        if self.project is None:
            self.error("open a project first")
            return []
        try:
            new = self.project.add_images([str(p) for p in paths])
        except Exception as exc:
            self.error(one_line(exc))
            return []
        self.refresh()
        return new

    def add_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add images to the project")
        if paths:
            self.add_images(paths)

    # -- the table -----------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return self.table.names

    def _name_at(self, row: int) -> str:
        return self.table.name_at(row)

    def refresh(self) -> None:
        """Re-read every image's state into the table (keeping the selection)."""
        entries = self.project.images if self.project is not None else []
        self.table.fill(entries, self.current)
        self._update_buttons()

    def _refresh_row(self, name: str) -> None:
        if self.project is not None and name in self.names:
            self.table.fill_row(self.names.index(name), self.project.image(name), self.current)

    def selected_names(self) -> list[str]:
        return self.table.selected_names()

    def row_state(self, name: str) -> dict[str, bool]:
        """The table's ticks of image ``name`` (annotated, segmented, changed since)."""
        return self.table.row_state(name)

    def _update_buttons(self) -> None:
        has = self.project is not None and self.table.rowCount() > 0
        busy = bool(self.host.runner.busy)
        self.add_button.setEnabled(self.project is not None and not busy)
        for b in (self.previous_button, self.next_button):
            b.setEnabled(has)
        self.open_image_button.setEnabled(bool(self.selected_names()))
        self.train_button.setEnabled(has and not busy)
        self.segment_all_button.setEnabled(has and not busy)
        self.segment_selected_button.setEnabled(bool(self.selected_names()) and not busy)
        self.cancel_button.setEnabled(busy)

    # -- images in the viewer ------------------------------------------------------------
    @property
    def image_layer(self) -> Any:
        return self.layers.image

    @property
    def annotations_layer(self) -> Any:
        return self.layers.annotations

    @property
    def segmentation_layer(self) -> Any:
        return self.layers.segmentation

    def _classes(self) -> tuple[dict[int, str], dict[int, str]] | None:
        """The host's class (names, colours), None when it has no class table."""
        table = getattr(self.host, "classes", None)
        if table is None:
            return None
        return dict(table.names), dict(table.colors)

    def _open_selected(self) -> None:
        names = self.selected_names()
        if names:
            self.open_image(names[0])

    def next_image(self) -> str | None:
        return self._step(+1)

    def previous_image(self) -> str | None:
        return self._step(-1)

    def _step(self, step: int) -> str | None:
        names = self.names
        if not names:
            return None
        i = names.index(self.current) + step if self.current in names else 0
        name = names[i % len(names)]
        return name if self.open_image(name) else None

    def open_image(self, name: str) -> bool:
        """Show image ``name`` and its annotations (layers "<name>" and "<name>
        annotations"; its segmentation too when there is one), replacing the last
        image opened from the project; the annotations are autosaved."""
        if self.project is None:
            self.error("open a project first")
            return False
        self.save_now()
        try:
            entry = self.project.image(name)
            from convpaint.axes import resolve_axes
            from convpaint.project import EAGER_BYTES

            data, axes = self.project.open_image(name, lazy=entry.nbytes > EAGER_BYTES)

            axes = resolve_axes(tuple(data.shape), axes).axes
            annotations = self.project.read_annotations(name)
            segmentation = read_segmentation(self.project, name, annotations.shape)
        except Exception as exc:
            self.error(f"cannot open {name!r}: {one_line(exc)}")
            return False
        self.layers.show(name, data, axes, annotations, segmentation, self._classes())
        self.current = name
        select_in_host(self.host, self.image_layer, self.annotations_layer, axes)
        self.refresh()
        self.status.setText(f"{name}: paint; annotations are saved as you go.")
        return True

    def save_now(self) -> Path | None:
        """Write the open image's annotations now if they changed (atomically)."""
        if self.project is None or self.current is None:
            self.autosave_timer.stop()
            return None
        data = self.layers.unsaved()
        if data is None:
            return None
        try:
            path = self.project.save_annotations(self.current, data)
        except Exception as exc:
            self.error(f"annotations of {self.current!r} not saved: {one_line(exc)}")
            return None
        self._refresh_row(self.current)
        return path

    def error(self, message: str) -> None:
        """Show ``message`` in the status line and as a napari error notification."""
        self.status.setText(message)
        show_error(f"Convpaint: {message}")

    def closeEvent(self, event: Any) -> None:  # noqa: N802 -- Qt's name
        self.save_now()
        super().closeEvent(event)
