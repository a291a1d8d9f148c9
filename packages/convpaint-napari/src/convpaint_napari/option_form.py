"""Extractor option fields generated from the extractor's declared schema.

Every extractor declares its options once (:mod:`convpaint.options`); this module
turns each stored option into a field, with no per-extractor code: ``bool`` -> a
check box, ``int``/``float`` with both bounds -> a spin box, choices -> a combo box,
``path`` -> a line edit with a browse button, anything else (lists, open-ended
numbers and text) -> a line edit checked by the schema. Run settings
(``stored=False``, e.g. ``device``) are left to the widget (the device dropdown).
A combination (``"vgg16+ilastik"``) gets the fields of every part, labelled by part.
An upsampler that declares an ``options`` schema gets its fields the same way
(:class:`UpsamplerOptions`).
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from convpaint.extractor import declared_options
from convpaint.options import Option, OptionError, check_value
from convpaint.registry import get_registry
from convpaint.upsampler_settings import declared_upsampler_options

DEFAULT_TEXT = "(default)"  # the combo entry of an option whose default is None


def extractor_schemas(extractor: str) -> dict[str, tuple[Option, ...] | None]:
    """Part name -> the options it declares (None: no schema; not installed: None)."""
    out: dict[str, tuple[Option, ...] | None] = {}
    for part in extractor.split("+") if extractor else []:
        try:
            out[part] = declared_options(get_registry().spec(part).factory)
        except Exception:  # not installed or a name conflict: the free-text field remains
            out[part] = None
    return out


def _default(opt: Option) -> Any:
    """The default as the schema's values come (lists, floats)."""
    return None if opt.default is None else check_value(opt, opt.default)


def _text(opt: Option, value: Any) -> str:
    if value is None:
        return ""
    if opt.is_list:
        return ", ".join(str(v) for v in value)
    return str(value)


class OptionField:
    """One option's widget: ``value()`` (validated), ``set_value()``, ``changed``."""

    def __init__(self, opt: Option, owner: str, on_change: Any, parent: QWidget) -> None:
        self.opt, self.owner = opt, owner
        tip = opt.help + (f" (allowed: {opt.allowed()})" if opt.allowed() else "")
        self.edit: QLineEdit | None = None
        self.check: QCheckBox | None = None
        self.combo: QComboBox | None = None
        self.spin: QSpinBox | QDoubleSpinBox | None = None
        widget: QWidget
        if opt.type == "bool":
            widget = self.check = QCheckBox()
            widget.toggled.connect(on_change)
        elif opt.choices is not None and not opt.is_list and opt.type != "path":
            widget = self.combo = combo = QComboBox()
            if opt.default is None:
                combo.addItem(DEFAULT_TEXT)
            combo.addItems([str(c) for c in opt.choices])
            combo.currentIndexChanged.connect(on_change)
        elif opt.type in ("int", "float") and opt.minimum is not None and opt.maximum is not None:
            spin: QSpinBox | QDoubleSpinBox
            if opt.type == "int":
                spin = QSpinBox()
                spin.setRange(int(opt.minimum), int(opt.maximum))
            else:
                spin = fine = QDoubleSpinBox()
                fine.setDecimals(3)
                fine.setRange(float(opt.minimum), float(opt.maximum))
                fine.setSingleStep(0.1)
            widget = self.spin = spin
            spin.valueChanged.connect(on_change)
        else:
            self.edit = QLineEdit(placeholderText=_text(opt, opt.default) or "default")
            self.edit.textChanged.connect(on_change)
            widget = self.edit
            if opt.type == "path":
                browse = QPushButton("…")
                browse.setFixedWidth(28)
                browse.setToolTip(f"choose the {opt.name} file")
                browse.clicked.connect(self._browse)
                widget = QWidget(parent)
                row = QHBoxLayout(widget)
                row.setContentsMargins(0, 0, 0, 0)
                row.addWidget(self.edit)
                row.addWidget(browse)
        self.widget = widget
        widget.setToolTip(tip)
        self.set_value(opt.default)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.widget, f"{self.opt.name} file")
        if path and self.edit is not None:
            self.edit.setText(path)

    def value(self) -> Any:
        """The field's value as the schema takes it; a blank line edit is the default."""
        opt = self.opt
        if self.check is not None:
            raw: Any = self.check.isChecked()
        elif self.combo is not None:
            text = self.combo.currentText()
            if text == DEFAULT_TEXT:
                return None
            raw = next(c for c in opt.choices or () if str(c) == text)
        elif self.spin is not None:
            raw = self.spin.value()
        else:
            assert self.edit is not None
            raw = self.edit.text().strip()
            if not raw:
                return _default(opt)
        return check_value(opt, raw, self.owner)

    def set_value(self, value: Any) -> None:
        opt = self.opt
        if self.check is not None:
            self.check.setChecked(bool(value))
        elif self.combo is not None:
            self.combo.setCurrentText(DEFAULT_TEXT if value is None else str(value))
        elif self.spin is not None:
            self.spin.setValue(opt.default if value is None else value)
        else:
            assert self.edit is not None
            try:
                same = value is None or check_value(opt, value) == _default(opt)
            except OptionError:
                same = False  # shown as it is; value() names the problem
            self.edit.setText("" if same else _text(opt, value))


class ExtractorOptions(QWidget):
    """The fields of one extractor (or of every part of a combination)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._form = QFormLayout(self)
        self._form.setContentsMargins(0, 0, 0, 0)
        self.extractor = ""
        self.schemas: dict[str, tuple[Option, ...] | None] = {}
        self.fields: dict[tuple[str, str], OptionField] = {}

    def set_extractor(self, extractor: str) -> None:
        """Rebuild the fields for ``extractor`` (defaults filled in)."""
        if extractor == self.extractor:
            return
        while self._form.rowCount():
            self._form.removeRow(0)
        self.extractor = extractor
        self.schemas = extractor_schemas(extractor)
        self.fields = {}
        combined = len(self.schemas) > 1
        for part, schema in self.schemas.items():
            for opt in schema or ():
                if not opt.stored:
                    continue  # run settings (device): the widget's own controls
                f = OptionField(opt, f"extractor {part!r}", self.changed.emit, self)
                self.fields[part, opt.name] = f
                label = f"{part}: {opt.name}" if combined else opt.name
                self._form.addRow(label.replace("_", " ").capitalize(), f.widget)

    @property
    def needs_free_text(self) -> bool:
        """A part declares no schema: its options go in a ``name=value`` field."""
        return any(schema is None for schema in self.schemas.values())

    def values(self) -> dict[str, dict[str, Any]]:
        """Part -> the options whose field differs from the default; ``ValueError`` naming
        the option when a field holds something the schema refuses."""
        out: dict[str, dict[str, Any]] = {part: {} for part in self.schemas}
        for (part, name), f in self.fields.items():
            try:
                value = f.value()
            except OptionError as exc:
                raise ValueError(str(exc)) from None
            if value != _default(f.opt):
                out[part][name] = value
        return out

    def set_values(self, options: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Fill the fields from part -> options (missing ones: defaults); returns what has
        no field (options of parts without a schema, or unknown names)."""
        rest: dict[str, dict[str, Any]] = {}
        for part in self.schemas:
            given = dict(options.get(part, {}))
            for (p, name), f in self.fields.items():
                if p == part:
                    f.set_value(given.pop(name, f.opt.default))
            if given:
                rest[part] = given
        return rest


class UpsamplerOptions(QWidget):
    """The fields of the options an upsampler declares (an ``options`` tuple of
    :class:`convpaint.Option` on its class); none for one without a schema."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._form = QFormLayout(self)
        self._form.setContentsMargins(0, 0, 0, 0)
        self.upsampler: str | None = None
        self.schema: tuple[Option, ...] | None = None
        self.fields: dict[str, OptionField] = {}
        self.setVisible(False)  # bilinear: no fields

    def set_upsampler(self, name: str | None) -> None:
        """Rebuild the fields for upsampler ``name`` (None: bilinear, no fields)."""
        if name == self.upsampler:
            return
        while self._form.rowCount():
            self._form.removeRow(0)
        self.upsampler, self.fields = name, {}
        self.schema = declared_upsampler_options(name) if name else None
        for opt in self.schema or ():
            if not opt.stored:
                continue  # run settings are not the model's
            f = OptionField(opt, f"upsampler {name!r}", self.changed.emit, self)
            self.fields[opt.name] = f
            self._form.addRow(f"{name}: {opt.name}".replace("_", " ").capitalize(), f.widget)
        self.setVisible(bool(self.fields))

    def values(self) -> dict[str, Any]:
        """Every field's option (what the upsampler's ``get_options()`` gives back, so a
        loaded model's settings round-trip); ``ValueError`` naming the option when a field
        holds something the schema refuses."""
        out = {}
        for name, f in self.fields.items():
            try:
                out[name] = f.value()
            except OptionError as exc:
                raise ValueError(str(exc)) from None
        return out

    def set_values(self, options: dict[str, Any]) -> dict[str, Any]:
        """Fill the fields (missing ones: defaults); returns the options without a field."""
        given = dict(options)
        for name, f in self.fields.items():
            f.set_value(given.pop(name, f.opt.default))
        return given
