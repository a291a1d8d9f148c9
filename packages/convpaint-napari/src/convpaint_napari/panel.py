"""The dock widget's controls and their layout, without behaviour: tabs "Paint & train",
"Classes", "Outputs", "Model", "Project" and "Tools" above the progress bar, Cancel and
the status line (always visible)."""

from __future__ import annotations

from napari.utils.notifications import show_error
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .classes import ClassTable
from .device import DeviceCombo
from .options import OptionsForm
from .outputs import OutputsPanel
from .shortcuts import help_text

# Progress and stage lines are shown at most this often: with napari's OpenGL canvas every
# repaint of any control recomposes the whole window, which under a software renderer
# (llvmpipe: VMs, remote desktops, Xvfb) cost 0.4 CPU-s per live stroke at ~30 updates.
PROGRESS_MS = 250
DOCS_URL = "https://pypi.org/project/convpaint-napari/"
TABS = ("Paint & train", "Classes", "Outputs", "Model", "Project", "Tools")


def _page(tabs: QTabWidget, title: str) -> QVBoxLayout:
    page = QWidget()
    layout = QVBoxLayout(page)
    tabs.addTab(page, title.replace("&", "&&"))  # "&" alone marks a Qt mnemonic
    return layout


class ConvpaintPanel(QWidget):
    """The controls of :class:`~convpaint_napari.widget.ConvpaintWidget`, laid out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tabs = QTabWidget()
        self._paint_tab(_page(self.tabs, TABS[0]))
        self.classes = ClassTable()
        _page(self.tabs, TABS[1]).addWidget(self.classes)
        self.outputs = OutputsPanel()
        self.proba_check = self.outputs.proba_check
        outputs = _page(self.tabs, TABS[2])
        outputs.addWidget(self.outputs)
        outputs.addStretch(1)
        self._model_tab(_page(self.tabs, TABS[3]))
        self.project_tab = _page(self.tabs, TABS[4])
        self._tools_tab(_page(self.tabs, TABS[5]))

        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self._later_progress: tuple[int, int] | None = None  # shown at the next flush
        self._later_stage: str | None = None
        self._progress_timer = QTimer(self, singleShot=True, interval=PROGRESS_MS)
        self._progress_timer.timeout.connect(self._flush_progress)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("stop the running job at its next tile")
        self.status = QLabel("Paint at least two classes, then Train.")
        self.status.setWordWrap(True)
        self.docs_link = QLabel(f'<a style="color: #7fb2ff" href="{DOCS_URL}">Documentation</a>')
        self.docs_link.setOpenExternalLinks(True)
        self.docs_link.setToolTip(DOCS_URL)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.cancel_button)

        root = QVBoxLayout(self)
        root.addWidget(self.tabs)
        root.addLayout(bottom)
        root.addWidget(self.status)
        root.addWidget(self.docs_link)
        root.addStretch(1)
        self.set_trained(False)

    def _paint_tab(self, page: QVBoxLayout) -> None:
        self.image_combo = QComboBox()
        self.image_combo.setToolTip("the image to train on and segment")
        self.axes_edit = QLineEdit()
        self.axes_edit.setToolTip(
            "axes of the image: T (time), Z, C (channels), Y, X; e.g. ZYX, TYX, CYX, YXC (RGB)"
        )
        self.annotations_combo = QComboBox()
        self.annotations_combo.setToolTip("the labels layer with your scribbles (0 = unlabelled)")
        self.new_annotations_button = QPushButton("New")
        self.new_annotations_button.setToolTip("add an empty annotations layer for the image")
        ann_row = QHBoxLayout()
        ann_row.addWidget(self.annotations_combo, 1)
        ann_row.addWidget(self.new_annotations_button)
        data = QFormLayout()
        data.addRow("Image", self.image_combo)
        data.addRow("Axes", self.axes_edit)
        data.addRow("Annotations", ann_row)
        self.layer_problem = QLabel("")
        self.layer_problem.setWordWrap(True)
        self.layer_problem.setStyleSheet("color: #f0a040")
        self.layer_problem.setVisible(False)

        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("train on the annotations (Shift+S)")
        self.segment_plane_button = QPushButton("Segment plane")
        self.segment_plane_button.setToolTip("segment the visible plane (Shift+D)")
        self.segment_all_button = QPushButton("Segment all")
        self.segment_all_button.setToolTip("segment every plane and frame of the image")
        self.live_check = QCheckBox("Live")
        self.live_check.setToolTip(
            "retrain and segment what is visible (the field of view at this zoom) after "
            "every stroke; the rest of the plane: Segment plane"
        )
        grid = QGridLayout()
        grid.addWidget(self.train_button, 0, 0)
        grid.addWidget(self.segment_plane_button, 0, 1)
        grid.addWidget(self.segment_all_button, 0, 2)
        grid.addWidget(self.live_check, 1, 0)
        page.addLayout(data)
        page.addWidget(self.layer_problem)
        page.addLayout(grid)
        page.addStretch(1)

    def _model_tab(self, page: QVBoxLayout) -> None:
        self.form = OptionsForm()
        self.device_combo = DeviceCombo()
        device_row = QFormLayout()
        device_row.addRow("Device", self.device_combo)
        self.save_button = QPushButton("Save model…")
        self.save_button.setToolTip("write the trained model (.npz: extractor, options, classes)")
        self.load_button = QPushButton("Load model…")
        self.load_button.setToolTip("read a model file and show its settings")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("forget the model and go back to the default settings")
        files = QHBoxLayout()
        for button in (self.save_button, self.load_button, self.reset_button):
            files.addWidget(button)
        page.addWidget(self.form)
        page.addLayout(device_row)
        page.addLayout(files)
        page.addStretch(1)

    def _tools_tab(self, page: QVBoxLayout) -> None:
        self.suggest_button = QPushButton("Suggest where to paint")
        self.suggest_button.setToolTip(
            "boxes where the model is least sure (annotated pixels left out); jumps to the "
            "first (Shift+G)"
        )
        self.suggest_count = QSpinBox(minimum=1, maximum=50, value=3)
        self.suggest_count.setToolTip("how many boxes")
        self.features_button = QPushButton("Show features")
        self.features_button.setToolTip(
            "the visible plane's features as RGB (PCA to 3 components), to compare extractors"
        )
        row = QHBoxLayout()
        row.addWidget(self.suggest_button, 1)
        row.addWidget(self.suggest_count)
        page.addLayout(row)
        page.addWidget(self.features_button)
        self.shortcuts_label = QLabel(help_text())
        self.shortcuts_label.setToolTip(
            "keyboard shortcuts of the viewer while Convpaint is docked"
        )
        page.addWidget(QLabel("<b>Shortcuts</b>"))
        page.addWidget(self.shortcuts_label)
        page.addStretch(1)

    def job_buttons(self) -> tuple[QPushButton, ...]:
        return (
            self.train_button,
            self.segment_plane_button,
            self.segment_all_button,
            self.save_button,
            self.load_button,
            self.reset_button,
            self.suggest_button,
            self.features_button,
        )

    def set_trained(self, trained: bool) -> None:
        """Enable what needs a trained model (Segment, Save, Suggest) only when there is one."""
        self._trained = trained
        for button in (
            self.segment_plane_button,
            self.segment_all_button,
            self.save_button,
            self.suggest_button,
        ):
            button.setEnabled(trained)
            button.setStatusTip("" if trained else "train (or load) a model first")

    def set_busy(self, busy: bool, job: str = "") -> None:
        """Disable the job and file buttons while a job runs (Cancel: the other way round)."""
        for button in self.job_buttons():
            button.setEnabled(not busy)
        if not busy:
            self.set_trained(self._trained)
        self.cancel_button.setEnabled(busy)
        # no indeterminate "busy" animation: its repaints cost ~40 % of a short job's time
        self._later_progress = self._later_stage = None
        self._progress_timer.stop()
        if self.progress.maximum() != 1 or self.progress.value() != 0:
            self.progress.setMaximum(1)
            self.progress.setValue(0)
        if busy:
            self.status.setText(f"{job}…")

    def show_progress(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` (coalesced: at most every ``PROGRESS_MS``)."""
        self._later_progress = (done, max(total, 1))
        self._schedule_progress()

    def show_stage(self, text: str) -> None:
        """Show a job's stage in the status line (coalesced like :meth:`show_progress`)."""
        self._later_stage = text
        self._schedule_progress()

    def _schedule_progress(self) -> None:
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _flush_progress(self) -> None:
        progress, stage = self._later_progress, self._later_stage
        self._later_progress = self._later_stage = None
        if progress is not None:
            self.progress.setMaximum(progress[1])
            self.progress.setValue(progress[0])
        if stage is not None:
            self.status.setText(stage)

    def show_layer_problem(self, problem: str | None) -> None:
        """A line under the pickers (e.g. an annotations layer of the wrong shape)."""
        self.layer_problem.setText(problem or "")
        self.layer_problem.setVisible(bool(problem))

    def error(self, message: str) -> None:
        """Show ``message`` in the status line and as a napari error notification."""
        self.status.setText(message)
        show_error(f"Convpaint: {message}")
