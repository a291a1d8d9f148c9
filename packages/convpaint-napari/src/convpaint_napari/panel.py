"""The dock widget's controls and their layout, without behaviour: layer pickers and axes,
the model form, the job buttons, progress and the status line."""

from __future__ import annotations

from napari.utils.notifications import show_error
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
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

from .options import OptionsForm


class ConvpaintPanel(QWidget):
    """The controls of :class:`~convpaint_napari.widget.ConvpaintWidget`, laid out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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

    def set_busy(self, busy: bool, job: str = "") -> None:
        """Disable the job and file buttons while a job runs (Cancel: the other way round)."""
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

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)

    def error(self, message: str) -> None:
        """Show ``message`` in the status line and as a napari error notification."""
        self.status.setText(message)
        show_error(f"Convpaint: {message}")
