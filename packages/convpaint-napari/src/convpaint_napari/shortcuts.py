"""Keyboard shortcuts of the workbench, bound on the viewer while the widget is docked.

napari-convpaint's Shift+A/S/D/F are kept (toggle annotations, train, segment, toggle
segmentation); classes 1-9 are Shift+Q ... Shift+O (the top letter row: napari's Labels
layer uses the digits for its tools); Shift+G suggests where to paint next.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

CLASS_KEYS = "QWERTYUIO"  # Shift+<key>: class 1..9


@dataclass(frozen=True)
class Shortcut:
    """``key`` in napari's notation, the widget method ``action`` (with ``args``)."""

    key: str
    action: str
    description: str
    args: tuple = ()


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("Shift-S", "train", "train"),
    Shortcut("Shift-D", "segment_plane", "segment the visible plane"),
    Shortcut("Shift-A", "toggle_layer", "show / hide the annotations", ("annotations",)),
    Shortcut("Shift-F", "toggle_layer", "show / hide the segmentation", ("segmentation",)),
    Shortcut("Shift-G", "suggest", "suggest where to paint next"),
    *(
        Shortcut(f"Shift-{k}", "select_class", f"paint class {i}", (i,))
        for i, k in enumerate(CLASS_KEYS, start=1)
    ),
)


def _handler(widget: Any, shortcut: Shortcut) -> Callable[[Any], None]:
    def run(viewer: Any) -> None:
        getattr(widget, shortcut.action)(*shortcut.args)

    run.__doc__ = f"Convpaint: {shortcut.description}"
    run.__name__ = f"convpaint_{shortcut.action}"
    return run


def bind(viewer: Any, widget: Any) -> None:
    """Bind every shortcut on ``viewer`` to ``widget``'s methods (replacing other bindings)."""
    for shortcut in SHORTCUTS:
        viewer.bind_key(shortcut.key, _handler(widget, shortcut), overwrite=True)


def unbind(viewer: Any, *_: Any) -> None:
    """Remove the bindings of :func:`bind` (e.g. when the widget is closed)."""
    for shortcut in SHORTCUTS:
        with suppress(KeyError, ValueError):  # not bound (any more)
            viewer.bind_key(shortcut.key, None, overwrite=True)


def help_text() -> str:
    """The shortcuts as lines "Shift+S  train" (classes 1-9 on one line)."""
    lines = [
        f"{s.key.replace('-', '+')}: {s.description}"
        for s in SHORTCUTS
        if s.action != "select_class"
    ]
    first, last = CLASS_KEYS[0], CLASS_KEYS[-1]
    lines.append(f"Shift+{first} … Shift+{last}: paint class 1 … 9")
    return "\n".join(lines)
