"""The model options form: extractor and its options, normalisation, random forest.

The extractor's fields come from the schema it declares (:mod:`.option_form`); an
extractor without one gets a free ``name=value; …`` field.  The upsampler dropdown
(bilinear or any installed upsampler) is enabled for extractors with patch features
(``patch_size > 1``, read from the extractor's class: nothing is built).

:class:`ModelSettings` is the form's value (plain data, no Qt); it builds a
:class:`convpaint.ConvpaintModel` and is read back from a loaded one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QSpinBox, QWidget

import convpaint
from convpaint.options import OptionError, validate
from convpaint.upsampler_settings import takes_upsampler, upsampler_description

from .option_form import ExtractorOptions, UpsamplerOptions

DEFAULT_EXTRACTOR = "ilastik"  # offline, no weights
NORMALIZE = ("image", "stack", "none")
BILINEAR = "bilinear"  # the upsampler entry for None: the core's bilinear upsampling
BILINEAR_HELP = "bilinear upsampling of patch features (the default)"


@dataclass
class ModelSettings:
    """Everything the form sets (plus the Outputs tab's ``downsample`` and the Model tab's
    ``device``); ``build()`` makes the model."""

    extractor: str = DEFAULT_EXTRACTOR
    options: dict[str, Any] = field(default_factory=dict)
    scalings: tuple[int, ...] | None = None
    normalize: str = "image"
    volumetric: bool = False
    n_estimators: int = 100
    max_depth: int | None = None
    seed: int = 0
    downsample: int = 1
    device: str | None = None  # a run setting (extractors' ``device=``), never stored
    upsampler: str | None = None  # None: bilinear
    upsampler_options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> convpaint.ConvpaintModel:
        options = dict(self.options)
        if self.device is not None:
            options["device"] = self.device
        return convpaint.ConvpaintModel(
            self.extractor,
            scalings=self.scalings,
            normalize=self.normalize,
            volumetric=self.volumetric,
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            seed=self.seed,
            downsample=self.downsample,
            upsampler=self.upsampler,
            upsampler_options=dict(self.upsampler_options) if self.upsampler else None,
            **options,
        )

    @classmethod
    def from_model(cls, model: convpaint.ConvpaintModel) -> ModelSettings:
        params = model.classifier.get_params()
        up = getattr(model, "upsampler", None)
        return cls(
            extractor=model.extractor.name,
            options=dict(model.extractor.get_options()),
            scalings=tuple(model.scalings) if model.scalings else None,
            normalize=model.normalize,
            volumetric=model.volumetric,
            n_estimators=int(params.get("n_estimators", 100)),
            max_depth=params.get("max_depth"),
            seed=int(params.get("random_state") or 0),
            downsample=int(getattr(model, "downsample", 1)),
            upsampler=up.name if up is not None else None,
            upsampler_options=dict(up.get_options()) if up is not None else {},
        )


def parse_options(text: str) -> dict[str, Any]:
    """``"sigmas=[1, 2]; backend=scipy"`` -> dict; values are JSON, else plain strings."""
    out: dict[str, Any] = {}
    for item in text.split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"option {item.strip()!r}: write name=value, separated by ';'")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value.strip()
    return out


def format_options(options: dict[str, Any]) -> str:
    return "; ".join(f"{k}={json.dumps(v)}" for k, v in options.items())


def parse_ints(text: str, what: str) -> tuple[int, ...] | None:
    """``"1, 2, 4"`` -> (1, 2, 4); blank -> None."""
    text = text.strip().strip("[]()")
    if not text:
        return None
    try:
        return tuple(int(v) for v in text.replace(" ", ",").split(",") if v)
    except ValueError:
        raise ValueError(f"{what}: write whole numbers separated by commas, got {text!r}") from None


class OptionsForm(QWidget):
    """Extractor dropdown (every installed extractor), its options, normalisation, forest."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.extractor = QComboBox()
        names = convpaint.list_extractors()
        self.extractor.addItems(names)
        self.extractor.setToolTip("feature extractor (every installed Convpaint extractor plugin)")
        self.extractor_options = ExtractorOptions()  # fields from the extractor's schema
        self.options = QLineEdit(placeholderText="name=value; …")
        self.options.setToolTip(
            'options of an extractor that declares no schema, JSON values: sigmas=[1, 3.5]; mode="a"'
        )
        self.scalings = QLineEdit(placeholderText="extractor default")
        self.scalings.setToolTip("pyramid downscaling factors, e.g. 1, 2, 4")
        self.upsampler = QComboBox()
        self.upsampler.addItem(BILINEAR, None)
        self.upsampler.setItemData(0, BILINEAR_HELP, Qt.ItemDataRole.ToolTipRole)
        for name in convpaint.list_upsamplers():
            self._add_upsampler(name)
        self.upsampler_options = UpsamplerOptions()  # fields of a declared schema
        self._upsampler_rest: dict[str, Any] = {}  # options of a loaded model without a field
        self.normalize = QComboBox()
        self.normalize.addItems(NORMALIZE)
        self.volumetric = QCheckBox("3-D features for Z stacks")
        self.n_estimators = QSpinBox(minimum=1, maximum=2000, value=100)
        self.max_depth = QSpinBox(minimum=0, maximum=200, value=0)
        self.max_depth.setSpecialValueText("unlimited")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)

        self._form = form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Extractor", self.extractor)
        form.addRow(self.extractor_options)
        form.addRow("Options", self.options)
        form.addRow("Upsampler", self.upsampler)
        form.addRow(self.upsampler_options)
        form.addRow("Scalings", self.scalings)
        form.addRow("Normalise", self.normalize)
        form.addRow("", self.volumetric)
        form.addRow("Trees", self.n_estimators)
        form.addRow("Max depth", self.max_depth)
        form.addRow("Seed", self.seed)

        self.set_settings(
            ModelSettings(DEFAULT_EXTRACTOR if DEFAULT_EXTRACTOR in names else (names or [""])[0])
        )
        self.extractor.currentTextChanged.connect(self._show_extractor_options)
        self.upsampler.currentIndexChanged.connect(self._upsampler_chosen)
        self.upsampler.currentIndexChanged.connect(self.changed)
        self.upsampler_options.changed.connect(self.changed)
        self.extractor_options.changed.connect(self.changed)
        self.options.textChanged.connect(self._show_free_text)
        for edit in (self.options, self.scalings):
            edit.textChanged.connect(self.changed)
        for combo in (self.extractor, self.normalize):
            combo.currentTextChanged.connect(self.changed)
        self.volumetric.toggled.connect(self.changed)
        for spin in (self.n_estimators, self.max_depth, self.seed):
            spin.valueChanged.connect(self.changed)

    def _show_extractor_options(self) -> None:
        self.extractor_options.set_extractor(self.extractor.currentText())
        self._show_free_text()
        self._enable_upsampler()

    def _add_upsampler(self, name: str) -> None:
        self.upsampler.addItem(name, name)
        tip = upsampler_description(name) or f"upsampler {name!r}"
        self.upsampler.setItemData(self.upsampler.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)

    def _enable_upsampler(self) -> None:
        """Enabled for extractors with patch features (or that cannot be told apart
        without building them); otherwise bilinear, with the reason as tooltip."""
        name = self.extractor.currentText()
        enabled = takes_upsampler(name) is not False
        if not enabled:
            self.upsampler.setCurrentIndex(0)
        self.upsampler.setEnabled(enabled)
        self._upsampler_tooltip()

    def _upsampler_tooltip(self) -> None:
        if not self.upsampler.isEnabled():
            tip = (
                f"{self.extractor.currentText()!r} has per-pixel features (patch_size 1): "
                "upsamplers apply to patch features (ViTs such as dinov2)"
            )
        else:
            tip = self.upsampler.itemData(
                self.upsampler.currentIndex(), Qt.ItemDataRole.ToolTipRole
            )
        self.upsampler.setToolTip(f"patch features to pixels: {tip}")

    def _upsampler_chosen(self) -> None:
        self.upsampler_options.set_upsampler(self.upsampler.currentData())
        self._upsampler_rest = {}
        self._upsampler_tooltip()

    def _upsampler_settings(self) -> tuple[str | None, dict[str, Any]]:
        name = self.upsampler.currentData() if self.upsampler.isEnabled() else None
        if name is None:
            return None, {}
        return name, {**self._upsampler_rest, **self.upsampler_options.values()}

    def _show_free_text(self) -> None:
        """The free field: for extractors without a schema (or when it holds something)."""
        show = self.extractor_options.needs_free_text or bool(self.options.text().strip())
        self.options.setVisible(show)
        label = self._form.labelForField(self.options)
        if label is not None:
            label.setVisible(show)

    def _extractor_options(self) -> dict[str, Any]:
        """The fields' values (those that differ from the defaults) and the free field's;
        for a combination keyed by part. ``ValueError`` naming a refused option."""
        name = self.extractor.currentText()
        self.extractor_options.set_extractor(name)
        fields = self.extractor_options.values()
        free = parse_options(self.options.text())
        if "+" in name:
            merged = {
                part: {**values, **dict(free.pop(part, {}))} for part, values in fields.items()
            }
            return {**free, **{part: v for part, v in merged.items() if v}}
        schema = self.extractor_options.schemas.get(name)
        if schema is not None and free:
            try:
                free = validate(schema, free, owner=f"extractor {name!r}")
            except OptionError as exc:
                raise ValueError(f"Options: {exc}") from None
        return {**fields.get(name, {}), **free}

    def settings(self) -> ModelSettings:
        """The form's value; raises ``ValueError`` naming a badly filled field."""
        upsampler, upsampler_options = self._upsampler_settings()
        return ModelSettings(
            extractor=self.extractor.currentText(),
            options=self._extractor_options(),
            scalings=parse_ints(self.scalings.text(), "Scalings"),
            normalize=self.normalize.currentText(),
            volumetric=self.volumetric.isChecked(),
            n_estimators=self.n_estimators.value(),
            max_depth=self.max_depth.value() or None,
            seed=self.seed.value(),
            upsampler=upsampler,
            upsampler_options=upsampler_options,
        )

    def set_settings(self, s: ModelSettings) -> None:
        """Fill the form from ``s`` (without emitting ``changed``)."""
        self.blockSignals(True)
        try:
            if self.extractor.findText(s.extractor) < 0:
                self.extractor.addItem(s.extractor)  # e.g. a combination "vgg16+ilastik"
            self.extractor.setCurrentText(s.extractor)
            self.extractor_options.set_extractor(s.extractor)
            combined = "+" in s.extractor
            by_part = dict(s.options) if combined else {s.extractor: dict(s.options)}
            rest = self.extractor_options.set_values(by_part)  # what has no field
            free = rest if combined else rest.get(s.extractor, {})
            self.options.setText(format_options(free))
            self._show_free_text()
            self._enable_upsampler()
            if s.upsampler is not None and self.upsampler.findData(s.upsampler) < 0:
                self._add_upsampler(s.upsampler)
            self.upsampler.setCurrentIndex(max(self.upsampler.findData(s.upsampler), 0))
            self._upsampler_chosen()
            self._upsampler_rest = self.upsampler_options.set_values(s.upsampler_options)
            self.scalings.setText(", ".join(str(v) for v in s.scalings) if s.scalings else "")
            self.normalize.setCurrentText(s.normalize)
            self.volumetric.setChecked(s.volumetric)
            self.n_estimators.setValue(s.n_estimators)
            self.max_depth.setValue(s.max_depth or 0)
            self.seed.setValue(s.seed)
        finally:
            self.blockSignals(False)
