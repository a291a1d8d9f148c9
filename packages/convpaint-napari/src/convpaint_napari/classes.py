"""Named classes in napari: the class table (value, name, colour; add, rename, recolour,
remove; CSV import/export via :mod:`convpaint.class_names`) and the layers it colours.

Annotations and segmentation layers get a ``DirectLabelColormap`` of the class colours
and a ``features`` table of the class names, so napari's status bar shows the class
name under the cursor; an instances layer gets each instance's class name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Labels
from napari.utils.colormaps import DirectLabelColormap
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from convpaint import class_names as cn

UNLISTED = "#808080"  # values missing from the table (never: the table grows as you paint)
N_DEFAULT = 2  # a new table: "class 1" and "class 2"


def colormap(colors: Mapping[int, str]) -> DirectLabelColormap:
    """Class values -> colours (0 transparent; unlisted values grey)."""
    mapping: dict[int | None, Any] = {None: UNLISTED, 0: "transparent"}
    mapping.update({int(v): c for v, c in colors.items()})
    return DirectLabelColormap(color_dict=mapping)


def class_features(names: Mapping[int, str]) -> dict[str, np.ndarray]:
    """A labels layer's ``features``: the class name of each value (0: unlabelled)."""
    values = [0, *sorted(names)]
    return {
        "index": np.array(values),
        "class": np.array(["unlabelled"] + [names[v] for v in values[1:]], dtype=object),
    }


def style_layer(layer: Labels, names: Mapping[int, str], colors: Mapping[int, str]) -> None:
    """Give a class-valued labels layer the class colours and names."""
    layer.colormap = colormap(colors)
    layer.features = class_features(names)


def name_instances(
    layer: Labels, instances: np.ndarray, labels: np.ndarray, names: Mapping[int, str]
) -> None:
    """``features`` of an instances layer: each id's class name (shown under the cursor)."""
    ids = instances.ravel()
    found = ids > 0
    first, where = np.unique(ids[found], return_index=True)
    classes = labels.ravel()[found][where]
    layer.features = {
        "index": np.array([0, *first.tolist()]),
        "class": np.array(
            ["background"] + [names.get(int(c), cn.default_name(int(c))) for c in classes],
            dtype=object,
        ),
    }


class ClassTable(QWidget):
    """The classes of the workbench; ``changed`` after every edit (not after ``set_classes``)."""

    changed = Signal()
    VALUE, NAME, COLOUR = range(3)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names: dict[int, str] = {}
        self.colors: dict[int, str] = {}
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Value", "Name", "Colour"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setSectionResizeMode(
            1, self.table.horizontalHeader().ResizeMode.Stretch
        )
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setToolTip("double-click a name to rename it, a colour to change it")
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.cellDoubleClicked.connect(self._on_double_click)
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("add a class with the next free value")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("remove the selected class from the table (pixels stay)")
        self.import_button = QPushButton("Import CSV…")
        self.import_button.setToolTip("read a value,name,color table")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("write the classes as a value,name,color table")
        self.add_button.clicked.connect(lambda: self.add_class())
        self.remove_button.clicked.connect(self._remove_selected)
        self.import_button.clicked.connect(self._import_dialog)
        self.export_button.clicked.connect(self._export_dialog)
        buttons = QHBoxLayout()
        for b in (self.add_button, self.remove_button, self.import_button, self.export_button):
            buttons.addWidget(b)
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)
        root.addWidget(self.table)
        root.addLayout(buttons)
        self.set_classes({v: cn.default_name(v) for v in range(1, N_DEFAULT + 1)})

    # -- state ---------------------------------------------------------------------------
    def set_classes(
        self, names: Mapping[int, str], colors: Mapping[int, str] | None = None
    ) -> None:
        """Replace the table (validated by the core; missing colours from its palette)."""
        checked = cn.check_class_names(names)
        given = cn.check_class_colors(colors or {})
        self.names = dict(sorted(checked.items()))
        self.colors = cn.colors_for(self.names, {**self.colors, **given})
        self._fill()

    def ensure(self, values: Iterable[int]) -> bool:
        """Add default rows for class values not in the table (painted, or of a model);
        True (and ``changed``) when rows were added."""
        new = sorted({int(v) for v in values if int(v) > 0} - set(self.names))
        if not new:
            return False
        for v in new:
            self.names[v] = cn.default_name(v)
            self.colors[v] = cn.default_color(v)
        self.names = dict(sorted(self.names.items()))
        self._fill()
        self.changed.emit()
        return True

    def add_class(self, name: str | None = None, color: str | None = None) -> int:
        """Add a class with the next free value; returns the value."""
        value = max(self.names, default=0) + 1
        self.names[value] = cn.check_class_names({value: name or cn.default_name(value)})[value]
        self.colors[value] = cn.check_class_colors({value: color or cn.default_color(value)})[value]
        self._fill()
        self.changed.emit()
        return value

    def rename(self, value: int, name: str) -> None:
        self._require(value)
        self.names[value] = cn.check_class_names({value: name})[value]
        self._fill()
        self.changed.emit()

    def recolor(self, value: int, color: str) -> None:
        self._require(value)
        self.colors[value] = cn.check_class_colors({value: color})[value]
        self._fill()
        self.changed.emit()

    def remove(self, value: int) -> None:
        self._require(value)
        del self.names[value]
        self.colors.pop(value, None)
        self._fill()
        self.changed.emit()

    def import_csv(self, path: str | Path) -> None:
        """Replace the table by a CSV (ValueError naming the file and row)."""
        names, colors = cn.read_csv(path)
        if not names:
            raise ValueError(f"{path}: the class table has no rows")
        self.colors = {}
        self.set_classes(names, colors)
        self.changed.emit()

    def export_csv(self, path: str | Path) -> Path:
        return cn.write_csv(path, self.names, self.colors)

    def _require(self, value: int) -> None:
        if value not in self.names:
            raise ValueError(
                f"class {value} is not in the table ({', '.join(map(str, self.names))})"
            )

    # -- the Qt table --------------------------------------------------------------------
    def _fill(self) -> None:
        self.table.blockSignals(True)
        try:
            self.table.setRowCount(len(self.names))
            for row, (value, name) in enumerate(self.names.items()):
                item = QTableWidgetItem(str(value))
                item.setFlags(item.flags() & ~_editable())
                self.table.setItem(row, self.VALUE, item)
                self.table.setItem(row, self.NAME, QTableWidgetItem(name))
                swatch = QTableWidgetItem(self.colors[value])
                swatch.setBackground(QColor(self.colors[value]))
                swatch.setFlags(swatch.flags() & ~_editable())
                self.table.setItem(row, self.COLOUR, swatch)
        finally:
            self.table.blockSignals(False)

    def _value_at(self, row: int) -> int:
        return int(self.table.item(row, self.VALUE).text())

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != self.NAME:
            return
        value = self._value_at(item.row())
        try:
            self.rename(value, item.text())
        except (TypeError, ValueError):
            self._fill()  # an empty name: back to the old one

    def _on_double_click(self, row: int, column: int) -> None:
        if column == self.COLOUR:
            value = self._value_at(row)
            chosen = QColorDialog.getColor(
                QColor(self.colors[value]), self, f"Colour of class {value}"
            )
            if chosen.isValid():
                self.recolor(value, chosen.name())

    def _remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedItems()}, reverse=True)
        for row in rows:
            self.remove(self._value_at(row))

    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import classes", "", "Class table (*.csv)")
        if path:
            try:
                self.import_csv(path)
            except (OSError, ValueError) as exc:
                show_error(f"Convpaint: {exc}")

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export classes", "classes.csv", "Class table (*.csv)"
        )
        if path:
            try:
                self.export_csv(path)
            except OSError as exc:
                show_error(f"Convpaint: could not write {path}: {exc}")


def _editable() -> Any:
    return Qt.ItemFlag.ItemIsEditable
