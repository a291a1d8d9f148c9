"""Names and colours of a model's classes: validation, defaults, CSV tables.

A class is a label value (a positive integer, 0 = unlabelled).  Its name defaults to
``"class <value>"`` and its colour to a fixed palette entry, so every model, project and
output shows the same class the same way.  Names and colours are display information:
they are stored in model files but are not part of a model's fingerprint (they cannot
change a result).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MAX_NAME = 200
# colour-blind-safe, distinct on dark and light backgrounds (napari's canvas is dark)
PALETTE = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#ffe119",
    "#f58231",
    "#911eb4",
    "#46f0f0",
    "#f032e6",
    "#bcf60c",
    "#fabebe",
    "#008080",
    "#e6beff",
)
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
CSV_COLUMNS = ("value", "name", "color")


def default_name(value: int) -> str:
    return f"class {value}"


def default_color(value: int) -> str:
    return PALETTE[(int(value) - 1) % len(PALETTE)]


def _value(key: Any, what: str) -> int:
    if isinstance(key, bool) or not isinstance(key, (int, str)) and not hasattr(key, "__index__"):
        raise TypeError(f"{what} keys must be class values (positive integers), got {key!r}")
    try:
        value = int(key)  # "3" from JSON/TOML keys
    except (TypeError, ValueError):
        raise TypeError(
            f"{what} keys must be class values (positive integers), got {key!r}"
        ) from None
    if isinstance(key, str) and str(value) != key.strip():
        raise TypeError(f"{what} keys must be class values (positive integers), got {key!r}")
    if value < 1:
        raise ValueError(f"{what} keys must be class values >= 1 (0 is unlabelled), got {key!r}")
    return value


def check_class_names(names: Mapping[Any, Any] | None) -> dict[int, str]:
    """``{value: name}`` with integer values >= 1 and non-empty one-line string names."""
    if names is None:
        return {}
    if not isinstance(names, Mapping):
        raise TypeError(
            f"class_names must be a mapping from class value to name, got {type(names).__name__}"
        )
    out: dict[int, str] = {}
    for key, name in names.items():
        value = _value(key, "class_names")
        if not isinstance(name, str):
            raise TypeError(
                f"class_names[{value}] must be a string, got {type(name).__name__} {name!r}"
            )
        name = name.strip()
        if not name or len(name) > MAX_NAME or any(c in name for c in "\r\n\0"):
            raise ValueError(
                f"class_names[{value}] must be one line of 1..{MAX_NAME} characters, got {name!r}"
            )
        out[value] = name
    return dict(sorted(out.items()))


def check_class_colors(colors: Mapping[Any, Any] | None) -> dict[int, str]:
    """``{value: "#rrggbb"}``; also accepts (r, g, b) tuples of 0..255 integers or 0..1 floats."""
    if colors is None:
        return {}
    if not isinstance(colors, Mapping):
        raise TypeError(
            f"class_colors must be a mapping from class value to colour, got {type(colors).__name__}"
        )
    out: dict[int, str] = {}
    for key, color in colors.items():
        value = _value(key, "class_colors")
        out[value] = _hex(color, value)
    return dict(sorted(out.items()))


def _hex(color: Any, value: int) -> str:
    if isinstance(color, str) and _HEX.match(color.strip()):
        return color.strip().lower()
    if isinstance(color, (list, tuple)) and len(color) in (3, 4):
        rgb = list(color[:3])
        if all(isinstance(c, float) and 0 <= c <= 1 for c in rgb):
            rgb = [round(c * 255) for c in rgb]
        if all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb):
            return "#" + "".join(f"{c:02x}" for c in rgb)
    raise ValueError(
        f"class_colors[{value}] must be '#rrggbb' or (r, g, b) with 0..255 integers, got {color!r}"
    )


def names_for(classes: Iterable[int], names: Mapping[int, str]) -> dict[int, str]:
    """A name for each of ``classes``: the given one or the default."""
    return {int(v): names.get(int(v), default_name(int(v))) for v in classes}


def colors_for(classes: Iterable[int], colors: Mapping[int, str]) -> dict[int, str]:
    return {int(v): colors.get(int(v), default_color(int(v))) for v in classes}


def rgba(color: str) -> list[int]:
    """``"#rrggbb"`` -> [r, g, b, 255]."""
    return [int(color[i : i + 2], 16) for i in (1, 3, 5)] + [255]


def background_values(names: Mapping[int, str]) -> list[int]:
    """The class values named "background" (any case)."""
    return [v for v, n in names.items() if n.strip().lower() == "background"]


# -- CSV ----------------------------------------------------------------------------------
def to_csv(names: Mapping[int, str], colors: Mapping[int, str]) -> str:
    """A ``value,name,color`` table of the classes in ``names`` (colours: given or default)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for value, name in sorted(names.items()):
        writer.writerow([value, name, colors.get(value, default_color(value))])
    return buf.getvalue()


def write_csv(path: str | os.PathLike, names: Mapping[int, str], colors: Mapping[int, str]) -> Path:
    """Write :func:`to_csv` atomically to ``path``."""
    from .io import atomic_write

    path = Path(path)
    with atomic_write(path, ".csv") as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(to_csv(names, colors))
    return path


def read_csv(path: str | os.PathLike) -> tuple[dict[int, str], dict[int, str]]:
    """(names, colours) from a ``value,name[,color]`` CSV; errors name the file and row."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(
            f"{path}: not a UTF-8 text file (a class table is value,name,color)"
        ) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["value", "name"]:
        raise ValueError(f"{path}: a class table starts with the header value,name[,color]")
    names: dict[Any, Any] = {}
    colors: dict[Any, Any] = {}
    for i, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < 2:
            raise ValueError(f"{path}, row {i}: expected value,name[,color], got {row!r}")
        value = row[0].strip()
        if value in names:
            raise ValueError(f"{path}, row {i}: class {value} appears twice")
        names[value] = row[1]
        if len(row) > 2 and row[2].strip():
            colors[value] = row[2].strip()
    try:
        return check_class_names(names), check_class_colors(colors)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


class NamedClasses:
    """``class_names`` / ``class_colors`` of a model: mixed into ``ConvpaintModel``.

    Reading gives a full table: every trained class (or, before training, every named
    one) with its given or default name/colour.  Assigning validates and replaces the
    given entries (``model.class_names = {1: "background", 2: "nucleus"}``).
    """

    classes_: Any
    _class_names: dict[int, str]
    _class_colors: dict[int, str]

    def _named_values(self) -> list[int]:
        if self.classes_ is not None:
            return [int(v) for v in self.classes_]
        return sorted(set(self._class_names) | set(self._class_colors))

    @property
    def class_names(self) -> dict[int, str]:
        return names_for(self._named_values(), self._class_names)

    @class_names.setter
    def class_names(self, names: Mapping[Any, Any] | None) -> None:
        self._class_names = check_class_names(names)

    @property
    def class_colors(self) -> dict[int, str]:
        return colors_for(self._named_values(), self._class_colors)

    @class_colors.setter
    def class_colors(self, colors: Mapping[Any, Any] | None) -> None:
        self._class_colors = check_class_colors(colors)
