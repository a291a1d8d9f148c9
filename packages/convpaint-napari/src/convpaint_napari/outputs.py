"""The Outputs tab: which results a job writes (segmentation always; probabilities,
uncertainty, instances) and how (smoothing, downsampling, auto-segment after training).

:class:`OutputSettings` is its value (plain data, no Qt).  ``downsample`` changes what
the model is trained on, so it is a model setting (:class:`.options.ModelSettings`);
``smooth`` is applied when segmenting and saved with the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QCheckBox, QFormLayout, QSpinBox, QWidget

MAX_DOWNSAMPLE = 16
MAX_SMOOTH = 50


@dataclass
class OutputSettings:
    proba: bool = True
    uncertainty: bool = False
    instances: bool = False
    min_size: int = 16
    split_touching: bool = True
    smooth: int = 0
    downsample: int = 1
    auto_segment: bool = True

    @property
    def needs_proba(self) -> bool:
        return self.proba or self.uncertainty


class OutputsPanel(QWidget):
    """Controls of :class:`OutputSettings`; ``changed`` after every edit,
    ``downsample_changed`` when the model must be rebuilt."""

    changed = Signal()
    downsample_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proba_check = QCheckBox("Probabilities")
        self.proba_check.setChecked(True)
        self.proba_check.setToolTip("write class probabilities to a 'probabilities' layer")
        self.uncertainty_check = QCheckBox("Uncertainty")
        self.uncertainty_check.setToolTip(
            "write 1 - (margin between the two most probable classes) to an 'uncertainty' "
            "layer: bright where the model is unsure, paint there next"
        )
        self.instances_check = QCheckBox("Instances")
        self.instances_check.setToolTip(
            "write one id per object to an 'instances' layer (every class but the "
            "background, which is the class named 'background', else the most frequent one)"
        )
        self.min_size = QSpinBox(minimum=0, maximum=10**7, value=16)
        self.min_size.setToolTip("objects smaller than this (pixels) merge into a neighbour or go")
        self.split_check = QCheckBox("Split touching objects")
        self.split_check.setChecked(True)
        self.split_check.setToolTip("separate touching objects with a distance watershed")
        self.smooth = QSpinBox(minimum=0, maximum=MAX_SMOOTH, value=0)
        self.smooth.setSpecialValueText("off")
        self.smooth.setToolTip("radius (pixels) of a smoothing of the probabilities before labels")
        self.downsample = QSpinBox(minimum=1, maximum=MAX_DOWNSAMPLE, value=1)
        self.downsample.setSpecialValueText("off")
        self.downsample.setToolTip(
            "train and segment at 1/k resolution (about k² faster, coarser borders); "
            "changing it needs a new training"
        )
        self.auto_segment_check = QCheckBox("Segment the plane after training")
        self.auto_segment_check.setChecked(True)
        self.auto_segment_check.setToolTip("Train also segments the visible plane")

        form = QFormLayout(self)
        form.addRow(self.proba_check)
        form.addRow(self.uncertainty_check)
        form.addRow(self.instances_check)
        form.addRow("  Min size", self.min_size)
        form.addRow("", self.split_check)
        form.addRow("Smoothing", self.smooth)
        form.addRow("Downsample", self.downsample)
        form.addRow(self.auto_segment_check)

        for check in (
            self.proba_check,
            self.uncertainty_check,
            self.instances_check,
            self.split_check,
            self.auto_segment_check,
        ):
            check.toggled.connect(self.changed)
        self.instances_check.toggled.connect(self._show_instance_options)
        for spin in (self.min_size, self.smooth):
            spin.valueChanged.connect(self.changed)
        self.downsample.valueChanged.connect(self.downsample_changed)
        self._show_instance_options()

    def _show_instance_options(self) -> None:
        on = self.instances_check.isChecked()
        self.min_size.setEnabled(on)
        self.split_check.setEnabled(on)

    def settings(self) -> OutputSettings:
        return OutputSettings(
            proba=self.proba_check.isChecked(),
            uncertainty=self.uncertainty_check.isChecked(),
            instances=self.instances_check.isChecked(),
            min_size=self.min_size.value(),
            split_touching=self.split_check.isChecked(),
            smooth=self.smooth.value(),
            downsample=self.downsample.value(),
            auto_segment=self.auto_segment_check.isChecked(),
        )

    def set_model_values(self, smooth: int, downsample: int) -> None:
        """Show a loaded model's ``smooth`` and ``downsample`` (no signals)."""
        for spin, value in ((self.smooth, smooth), (self.downsample, downsample)):
            spin.blockSignals(True)
            spin.setValue(int(value))
            spin.blockSignals(False)
