"""The Project tab's file table: one row per image of a :class:`convpaint.Project`
(name, shape, annotated, segmented, changed since), the opened image in bold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

COLUMNS = ("Image", "Shape", "Annotated", "Segmented", "Changed since")
TICKS = ("annotated", "segmented", "stale")  # columns 2, 3, 4


class ProjectTable(QTableWidget):
    """Read-only rows of project images (``entries``: :class:`convpaint.project.ImageEntry`,
    with ``name``, ``shape``, ``annotated``, ``segmented``, ``stale``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        vertical, header = self.verticalHeader(), self.horizontalHeader()
        assert vertical is not None and header is not None
        vertical.setVisible(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.setToolTip(
            "double-click an image to open it with its annotations; 'changed since': "
            "segmented by another model, or the image or its annotations changed since"
        )

    @property
    def names(self) -> list[str]:
        return [self.name_at(r) for r in range(self.rowCount())]

    def name_at(self, row: int) -> str:
        return self._text(row, 0)

    def _text(self, row: int, col: int) -> str:
        item = self.item(row, col)
        return item.text() if item is not None else ""

    def fill(self, entries: Sequence[Any], current: str | None) -> None:
        """All rows from ``entries``, keeping the selection (by name)."""
        selected = set(self.selected_names())
        self.setRowCount(len(entries))
        for row, e in enumerate(entries):
            self.fill_row(row, e, current)
        self.clearSelection()
        for row, e in enumerate(entries):
            if e.name in selected:
                self.selectRow(row)

    def fill_row(self, row: int, entry: Any, current: str | None) -> None:
        ticks = ("✓" if getattr(entry, k) else "" for k in TICKS)
        values = (entry.name, " × ".join(map(str, entry.shape)), *ticks)
        for col, text in enumerate(values):
            item = QTableWidgetItem(text)
            if col:
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            if entry.name == current:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.setItem(row, col, item)

    def selected_names(self) -> list[str]:
        rows = sorted({i.row() for i in self.selectedIndexes()})
        return [self.name_at(r) for r in rows]

    def row_state(self, name: str) -> dict[str, bool]:
        """The ticks of image ``name`` (annotated, segmented, stale: changed since)."""
        row = self.names.index(name)
        return {k: bool(self._text(row, c + 2)) for c, k in enumerate(TICKS)}
