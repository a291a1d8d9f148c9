"""Where features are computed: a device dropdown (auto / cpu / cuda / mps) with each
entry's availability, a *run setting* passed to extractors that take ``device=``
(never stored in the model: model files load anywhere).

torch is imported only when the list is first needed (the dropdown opened, or
:meth:`DeviceCombo.refresh`), so docking the widget stays fast.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QComboBox, QWidget

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class DeviceChoice:
    """One entry of the dropdown: ``reason`` says what it resolves to, or why it is off."""

    name: str
    available: bool
    reason: str


def device_choices() -> list[DeviceChoice]:
    """Availability of every entry of :data:`DEVICES` on this machine (imports torch)."""
    try:
        import torch
    except ImportError:
        off = "torch is not installed (only CPU extractors such as ilastik)"
        return [
            DeviceChoice("auto", True, "CPU: torch is not installed"),
            DeviceChoice("cpu", True, "the CPU"),
            DeviceChoice("cuda", False, off),
            DeviceChoice("mps", False, off),
        ]
    cuda = bool(torch.cuda.is_available())
    if cuda:
        n = torch.cuda.device_count()
        cuda_reason = f"{torch.cuda.get_device_name(0)}" + (f" (+{n - 1} more)" if n > 1 else "")
    else:
        cuda_reason = f"torch {torch.__version__} sees no CUDA GPU"
    mps_backend = getattr(torch.backends, "mps", None)
    mps = bool(mps_backend is not None and mps_backend.is_available())
    return [
        DeviceChoice("auto", True, f"the first CUDA GPU: {cuda_reason}" if cuda else "the CPU"),
        DeviceChoice("cpu", True, "the CPU"),
        DeviceChoice("cuda", cuda, cuda_reason),
        DeviceChoice("mps", mps, "Apple GPU (MPS)" if mps else "no Apple GPU (MPS) available"),
    ]


def supports_device(extractor: str) -> bool:
    """Whether the extractor called ``extractor`` takes a ``device=`` option (torch-based
    ones: vgg16, dinov2, uni, cellpose); combinations (``"a+b"``) and unknown names: no."""
    if "+" in extractor:
        return False
    from convpaint import FeatureExtractor
    from convpaint.registry import get_registry

    try:
        factory = get_registry().spec(extractor).factory
        if isinstance(factory, type) and issubclass(factory, FeatureExtractor):
            return bool(factory.supports_device)
        params = inspect.signature(factory).parameters
    except Exception:  # not installed, a name conflict, or no inspectable signature
        return False
    return "device" in params


class DeviceCombo(QComboBox):
    """The device dropdown; unavailable entries are disabled, with the reason as tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.addItems(DEVICES)
        self.setToolTip("where torch-based extractors compute features (a run setting)")
        self.choices: list[DeviceChoice] | None = None

    def refresh(self) -> list[DeviceChoice]:
        """Check availability (imports torch) and update the entries."""
        self.choices = device_choices()
        model = self.model()
        for i, choice in enumerate(self.choices):
            item = model.item(i)
            item.setEnabled(choice.available)
            item.setText(choice.name if choice.available else f"{choice.name} (unavailable)")
            item.setData(choice.reason, Qt.ItemDataRole.ToolTipRole)
        if not self.choices[self.currentIndex()].available:
            self.setCurrentIndex(0)
        return self.choices

    def showPopup(self) -> None:  # noqa: N802 (Qt's name)
        if self.choices is None:
            self.refresh()
        super().showPopup()

    def device(self) -> str:
        """The chosen device name (``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``)."""
        return DEVICES[max(self.currentIndex(), 0)]

    def set_device(self, name: str) -> None:
        self.setCurrentIndex(DEVICES.index(name))
