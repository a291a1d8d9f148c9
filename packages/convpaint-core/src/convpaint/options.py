"""Extractor options declared once, as a small schema.

An extractor lists its keyword options as :class:`Option` records in its
``options`` class attribute. From that one declaration the core derives the
validation of user input (:func:`validate`: the Python API, ``--option`` on the
command line, the napari form), the defaults (:func:`defaults`), what is stored in
model files (:func:`stored_options`, the default ``get_options()``) and the table
of ``convpaint extractors --options NAME`` (:func:`describe`).

Types (:data:`TYPES`):

``int``, ``float``
    A number (``bool`` is not one); ``minimum``/``maximum`` bound it (inclusive).
    Floats must be finite; an integer given for a float becomes a float.
``bool``
    ``True``/``False`` (text: true/false, yes/no, on/off, 1/0).
``str``
    Text; usually with ``choices``.
``path``
    A file path, stored as a string; ``choices`` name the special values accepted
    besides a path (e.g. ``("random",)`` for weights). Existence is the extractor's
    business (it knows where else to look).
``int-list``, ``float-list``, ``str-list``
    Non-empty lists; a single value counts as a list of one. ``choices`` and
    ``minimum``/``maximum`` apply to every element.

An option whose default is ``None`` also accepts ``None`` (text: ``null``/``none``),
meaning "the extractor's own default" (e.g. weights from the hub cache).
Options with ``stored=False`` are run settings (``device``, ``download``): they are
validated like the others but never written into model files.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import os
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: the option types; see the module docstring
TYPES: tuple[str, ...] = (
    "int",
    "float",
    "bool",
    "str",
    "path",
    "int-list",
    "float-list",
    "str-list",
)
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_NONE = ("null", "none")


class OptionError(ValueError):
    """An option value (or name) that the schema does not allow; the message names the
    option, its owner, the value and what is allowed."""

    def __init__(self, message: str, option: str = "") -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Option:
    """One keyword option of an extractor.

    Parameters
    ----------
    name : the keyword (a Python identifier).
    type : one of :data:`TYPES`.
    default : the value used when the option is not given (``None``: "the extractor's
        own default"; then ``None`` is accepted too).
    help : one line for ``convpaint extractors --options`` and the napari tooltip.
    choices : allowed values (per element for lists; extra named values for paths).
    minimum, maximum : inclusive bounds of numbers (per element for lists).
    stored : False for run settings (``device``) that model files never keep.
    """

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    stored: bool = True

    @property
    def element_type(self) -> str:
        """``"int"`` for ``"int-list"`` and so on; the type itself for scalars."""
        return self.type.removesuffix("-list")

    @property
    def is_list(self) -> bool:
        return self.type.endswith("-list")

    def allowed(self) -> str:
        """What the option accepts, in words (``"0..10"``, ``"one of a, b"``, ...)."""
        parts = []
        if self.type == "path":
            parts = ["a path", *(_show(c) for c in self.choices or ())]
        elif self.choices is not None:
            parts = [f"one of {', '.join(_show(c) for c in self.choices)}"]
        if self.minimum is not None or self.maximum is not None:
            lo = "" if self.minimum is None else _show(self.minimum)
            hi = "" if self.maximum is None else _show(self.maximum)
            parts.append(f"{lo}..{hi}")
        if parts and self.default is None:
            parts.append("null")
        if len(parts) < 2:
            return "".join(parts)
        return ", ".join(parts[:-1]) + " or " + parts[-1]


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value) if _jsonable(value) else repr(value)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _from_text(text: str) -> Any:
    """A JSON value when the text is one (``"[0, 2]"``, ``"2"``, ``'"scipy"'``), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _element(opt: Option, value: Any, where: str) -> Any:
    """One scalar of ``opt``'s element type, coerced from text where needed."""
    kind = opt.element_type
    text = value.strip() if isinstance(value, str) else None
    if kind == "bool":
        if text is not None and text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        if isinstance(value, bool):
            return value
        raise OptionError(f"{where}: expected true or false, got {_short(value)}", opt.name)
    if kind in ("int", "float"):
        if text is not None:
            parsed = _from_text(text)
            value = parsed if isinstance(parsed, (int, float)) else value
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if kind == "int":  # 2.0 is refused rather than truncated silently
            if not (ok and isinstance(value, numbers.Integral)):
                raise OptionError(f"{where}: expected an integer, got {_short(value)}", opt.name)
            value = int(value)
        else:
            if not ok or not math.isfinite(float(value)):
                raise OptionError(
                    f"{where}: expected a finite number, got {_short(value)}", opt.name
                )
            value = float(value)
        if (opt.minimum is not None and value < opt.minimum) or (
            opt.maximum is not None and value > opt.maximum
        ):
            raise OptionError(f"{where}: {_show(value)} is outside {opt.allowed()}", opt.name)
    elif kind == "path":
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value.strip():
            raise OptionError(f"{where}: expected a path, got {_short(value)}", opt.name)
        if text is not None and text.startswith('"'):
            value = _from_text(text) if isinstance(_from_text(text), str) else value
        return value  # choices name extra values; any other text is a path
    else:  # str
        if text is not None and text.startswith('"') and isinstance(_from_text(text), str):
            value = _from_text(text)
        if not isinstance(value, str):
            raise OptionError(f"{where}: expected text, got {_short(value)}", opt.name)
    if opt.choices is not None and value not in opt.choices:
        raise OptionError(f"{where}: {_short(value)} is not allowed; {opt.allowed()}", opt.name)
    return value


#: the ``device=`` option of torch extractors (a run setting; the extractor resolves it)
DEVICE = Option(
    "device",
    "str",
    "auto",
    "where the network runs: auto (CUDA when available, else CPU), cpu, cuda, cuda:N, mps",
    stored=False,
)


def network_weights(default_source: str) -> Option:
    """The ``weights=`` option of a network: None (``default_source``), a file, or "random"."""
    return Option(
        "weights",
        "path",
        None,
        f"null: {default_source}; a path: a weights file; random: untrained (tests only)",
        choices=("random",),
    )


def check_value(opt: Option, value: Any, owner: str = "") -> Any:
    """``value`` as ``opt`` takes it (text coerced by type, tuples as lists), or an
    :class:`OptionError` naming the option, ``owner``, the value and what is allowed."""
    where = f"option {opt.name!r}" + (f" of {owner}" if owner else "")
    if value is None or (
        isinstance(value, str) and value.strip().lower() in _NONE and opt.default is None
    ):
        if opt.default is None:
            return None
        raise OptionError(f"{where}: may not be null; {opt.allowed() or opt.type}", opt.name)
    if not opt.is_list:
        return _element(opt, value, where)
    if isinstance(value, str):
        text = value.strip()
        parsed = _from_text(text)
        if isinstance(parsed, list):
            value = parsed
        elif opt.element_type in ("int", "float") or "," in text:
            inner = text.strip("[]()")
            value = [v for v in inner.replace(",", " ").split() if v]
        else:
            value = [text]
    elif isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        value = [value]
    items = list(value)
    if not items:
        raise OptionError(f"{where}: expected a non-empty list, got {_short(value)}", opt.name)
    return [_element(opt, v, where) for v in items]


def validate(
    schema: Iterable[Option], values: Mapping[str, Any], owner: str = ""
) -> dict[str, Any]:
    """The given ``values`` checked and coerced by ``schema`` (only those given, in the
    order given); an unknown name is an :class:`OptionError` listing the known ones."""
    by_name = {o.name: o for o in schema}
    out: dict[str, Any] = {}
    for name, value in values.items():
        opt = by_name.get(name)
        if opt is None:
            known = ", ".join(by_name) or "none"
            close = difflib.get_close_matches(str(name), list(by_name), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            who = owner or "this extractor"
            raise OptionError(
                f"{who} has no option {name!r}{hint}; its options: {known}", str(name)
            )
        out[name] = check_value(opt, value, owner)
    return out


def defaults(schema: Iterable[Option]) -> dict[str, Any]:
    """Every option's default (stored or not), in declaration order."""
    return {
        o.name: (list(o.default) if o.is_list and o.default is not None else o.default)
        for o in schema
    }


def stored_options(schema: Iterable[Option], obj: Any) -> dict[str, Any]:
    """The stored options' current values on ``obj`` (its attributes of the same names),
    JSON-ready: lists for list types, strings for paths; what ``get_options`` returns."""
    out: dict[str, Any] = {}
    for o in schema:
        if not o.stored:
            continue
        value = getattr(obj, o.name)
        if value is not None and o.is_list:
            value = list(value)
        elif isinstance(value, os.PathLike):
            value = os.fspath(value)
        out[o.name] = value
    return out


def schema_problems(schema: Any) -> list[str]:
    """What is wrong with a declared schema (empty when nothing): a tuple of
    :class:`Option` with unique identifier names, known types and valid defaults."""
    if not isinstance(schema, tuple):
        return [f"options must be a tuple of convpaint.options.Option, got {_short(schema)}"]
    problems: list[str] = []
    seen: set[str] = set()
    for o in schema:
        if not isinstance(o, Option):
            problems.append(f"options must hold Option records, got {_short(o)}")
            continue
        if not isinstance(o.name, str) or not o.name.isidentifier():
            problems.append(f"option name must be an identifier, got {o.name!r}")
        elif o.name in seen:
            problems.append(f"option {o.name!r} is declared twice")
        seen.add(str(o.name))
        if o.type not in TYPES:
            problems.append(
                f"option {o.name!r}: type must be one of {', '.join(TYPES)}, got {o.type!r}"
            )
            continue
        if not isinstance(o.help, str):
            problems.append(f"option {o.name!r}: help must be text")
        if o.choices is not None and (not isinstance(o.choices, tuple) or not o.choices):
            problems.append(f"option {o.name!r}: choices must be a non-empty tuple or None")
            continue
        if o.type in ("bool", "str", "path", "str-list") and (
            o.minimum is not None or o.maximum is not None
        ):
            problems.append(f"option {o.name!r}: minimum/maximum apply to numbers only")
        elif o.minimum is not None and o.maximum is not None and o.minimum > o.maximum:
            problems.append(f"option {o.name!r}: minimum {o.minimum} > maximum {o.maximum}")
        if not isinstance(o.stored, bool):
            problems.append(f"option {o.name!r}: stored must be True or False")
        try:
            checked = check_value(o, o.default)
        except OptionError as exc:
            problems.append(f"default is invalid: {exc}")
            continue
        if o.stored and not _jsonable(checked):
            problems.append(f"option {o.name!r}: default {_short(o.default)} is not JSON")
    return problems


def describe(schema: Iterable[Option], width: int = 100) -> list[str]:
    """The schema as a text table (name, type, default, help), each row followed by
    what the option accepts (and a long default), indented and wrapped to ``width``."""
    schema = tuple(schema)
    rows = [("NAME", "TYPE", "DEFAULT", "HELP")]
    extra: list[list[str]] = [[]]
    for o in schema:
        default = _show(o.default)
        more = []
        if len(default) > 24:
            more.append(f"default: {default}")
            default = "(below)"
        if o.allowed():
            more.append(f"allowed: {o.allowed()}")
        help_text = o.help + ("" if o.stored else " (run setting, not stored in models)")
        rows.append((o.name, o.type, default, help_text))
        extra.append(more)
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    indent = " " * (widths[0] + 2)
    lines = []
    for row, more in zip(rows, extra, strict=True):
        cells = "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True))
        lines.append(f"{cells}  {row[3]}".rstrip())
        for text in more:
            lines.extend(
                textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + "  ")
            )
    return lines


__all__ = [
    "DEVICE",
    "TYPES",
    "Option",
    "OptionError",
    "check_value",
    "defaults",
    "describe",
    "schema_problems",
    "stored_options",
    "validate",
    "network_weights",
]
