"""What the ``convpaint`` subcommands share: option parsing, reading inputs, loading
models and wording errors (one line, exit status 2; ``CONVPAINT_DEBUG=1`` shows the
traceback)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["weights=random", "layers=[0,2]"]`` -> keyword options (values parsed as JSON when possible)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"option {pair!r} is not KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def extractor_options(extractor: str, pairs: list[str] | None) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs -> the keyword options of ``extractor``, checked against
    the schema each extractor declares (text coerced by type) before anything is read.

    For a combination (``vgg16+ilastik``) keys name the part: ``vgg16.layers=[0,2]``
    (or ``vgg16={"layers": [0, 2]}``) -> ``{"vgg16": {"layers": [0, 2]}}``. Options of
    an extractor without a schema are parsed as JSON when possible and left to its
    constructor. An error names the option, the extractor and what is allowed."""
    from .options import validate

    parts = extractor.split("+")
    combined = len(parts) > 1
    raw: dict[str, dict[str, Any]] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"option {pair!r} is not KEY=VALUE")
        part, dot, name = key.partition(".")
        if not dot:
            part, name = (key, "") if combined and key in parts else (parts[0], key)
            if combined and not name:  # vgg16={"layers": [0]}
                given = json.loads(value) if value.strip().startswith("{") else None
                if not isinstance(given, dict):
                    raise ValueError(f"option {pair!r}: write {key}.NAME=VALUE")
                raw.setdefault(part, {}).update(given)
                continue
            if combined:
                raise ValueError(
                    f"option {key!r} of the combined extractor {extractor!r} must name its part: "
                    f"{', '.join(p + '.' + key for p in parts)}"
                )
        elif part not in parts:
            raise ValueError(
                f"option {key!r}: {part!r} is not a part of extractor {extractor!r} "
                f"(parts: {', '.join(parts)})"
            )
        raw.setdefault(part, {})[name] = value
    out: dict[str, dict[str, Any]] = {}
    for part, values in raw.items():
        schema = schema_of(part)
        if schema is None:  # undeclared: JSON where possible, the constructor checks
            out[part] = {k: _json_or_text(v) for k, v in values.items()}
        else:
            out[part] = validate(schema, values, owner=f"extractor {part!r}")
    if combined:
        return dict(out)
    return out.get(parts[0], {})


def schema_of(name: str) -> Any:
    """The options the installed extractor ``name`` declares (see
    :func:`convpaint.extractor.declared_options`); not installed: the registry's error."""
    from .extractor import declared_options
    from .registry import get_registry

    return declared_options(get_registry().spec(name).factory)


def _json_or_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def schema_lines(name: str) -> list[str]:
    """What ``convpaint extractors --options NAME`` prints: the declared options table of
    extractor ``NAME``, else of upsampler ``NAME``."""
    from .extractor import declared_options
    from .options import describe
    from .registry import ExtractorNotFoundError, get_registry
    from .upsampler_registry import get_upsampler_registry
    from .upsampler_settings import declared_upsampler_options

    try:
        spec = get_registry().spec(name)
        schema = declared_options(spec.factory)
        kind = ""
    except ExtractorNotFoundError as not_an_extractor:
        if name not in get_upsampler_registry().names():
            raise not_an_extractor from None
        spec = get_upsampler_registry().spec(name)
        schema = declared_upsampler_options(name)
        kind = "upsampler "
    head = f"{kind}{name} ({spec.distribution or 'package unknown'}): {spec.description}"
    if schema is None:
        return [head, "declares no options schema (its constructor checks the keywords)"]
    if not schema:
        return [head, "takes no options"]
    return [head, *describe(schema)]


def parse_ints(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from None


def read_input(path: str, level: int = 0, lazy: bool = False):
    """(array, axes or None, scale, units): zarr/OME-Zarr always lazily, TIFF lazily when
    ``lazy`` (tifffile's zarr view), anything else in memory."""
    from .io import check_tiff, read_image
    from .ome import is_zarr_path, open_tiff, open_zarr

    if is_zarr_path(path):
        img = open_zarr(path, level)
    elif lazy and Path(path).suffix.lower() in (".tif", ".tiff"):
        if not Path(path).is_file():
            raise FileNotFoundError(f"no such file: {path}")
        check_tiff(path, level)
        img = open_tiff(path, level)
    else:
        return read_image(path), None, {}, {}
    return img.array, img.axes, img.scale, img.units


def make_scheduler(address: str | None):
    if not address:
        return None
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            '--scheduler needs dask.distributed: pip install "convpaint-core[distributed]"'
        ) from None
    return Client(address)


class Failure(Exception):
    """An error already worded for the user (exit status 2)."""


KNOWN: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    OSError,
    RuntimeError,
    MemoryError,
)


def explain(exc: BaseException) -> str:
    """One line naming the problem: the message, prefixed with the exception's type when
    it is not one of the ordinary ones (a ZeroDivisionError says little by itself)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, KNOWN):
        text = f"{type(exc).__name__}: {text}"
    return text


@contextlib.contextmanager
def unexpected(what: str):
    """Report an exception other than the ordinary ones (an extractor's ZeroDivisionError,
    KeyError, ...) as ``what: Type: message``."""
    try:
        yield
    except (Failure, KeyboardInterrupt, *KNOWN):
        raise
    except Exception as exc:
        if debug():
            raise
        raise Failure(f"{what}: {explain(exc)} (CONVPAINT_DEBUG=1 shows the traceback)") from exc


def debug() -> bool:
    return os.environ.get("CONVPAINT_DEBUG", "") not in ("", "0")


def extractor_text(name: str, options: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in options.items()) or "none"
    return f"extractor {name!r}, options: {shown}"


def load_model_file(path: str):
    from .loading import load_model
    from .model_file import ModelFileError

    try:
        return load_model(path)
    except (ModelFileError, KeyboardInterrupt):
        raise
    except Exception as exc:  # e.g. an extractor refusing the file's settings
        raise Failure(f"{path}: cannot load the model ({explain(exc)})") from exc


def saving(path: str | Path, save) -> None:
    """Run ``save``; a write error (disk full, ...) names ``path``."""
    from .io import write_error

    try:
        save()
    except OSError as exc:
        raise write_error(path, exc) from None
