"""Choosing an upsampler without building anything: which extractors take one, the
options an upsampler declares, and the checks of ``[model] upsampler`` in project.toml.

Everything here reads class attributes of the registries' factories (``patch_size`` of
an extractor class, ``options`` of an upsampler class), so no network is built and no
weights are looked for; the napari model form and :mod:`convpaint.project_files` use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .options import Option, OptionError, validate
from .registry import get_registry
from .upsampler_registry import get_upsampler_registry

__all__ = [
    "check_upsampler_settings",
    "declared_upsampler_options",
    "extractor_patch_size",
    "takes_upsampler",
    "upsampler_description",
]


def extractor_patch_size(extractor: str) -> int | None:
    """The largest ``patch_size`` the parts of ``extractor`` (``"vgg16+dinov2"``) declare
    on their classes; None when a part is not installed or its factory is not a class."""
    sizes: list[int] = []
    for part in extractor.split("+") if extractor else []:
        try:
            factory = get_registry().spec(part.strip()).factory
        except Exception:  # not installed, or two packages claim the name
            return None
        size = getattr(factory, "patch_size", None) if isinstance(factory, type) else None
        if not isinstance(size, int) or isinstance(size, bool):
            return None
        sizes.append(size)
    return max(sizes) if sizes else None


def takes_upsampler(extractor: str) -> bool | None:
    """Whether ``extractor`` (or a part of a combination) returns patch features
    (``patch_size > 1``); None when that cannot be told without building it."""
    size = extractor_patch_size(extractor)
    return None if size is None else size > 1


def declared_upsampler_options(name: str) -> tuple[Option, ...] | None:
    """The options schema upsampler ``name`` declares (an ``options`` tuple of
    :class:`~convpaint.options.Option` on its class), else None (not installed, or no
    schema: its constructor is the only check)."""
    try:
        factory = get_upsampler_registry().spec(name)
    except Exception:
        return None
    options = getattr(factory.factory, "options", None)
    if isinstance(options, (tuple, list)) and all(isinstance(o, Option) for o in options):
        return tuple(options)
    return None


def upsampler_description(name: str) -> str:
    """The one-line description upsampler ``name`` registers ("" when not installed)."""
    try:
        return str(get_upsampler_registry().spec(name).description)
    except Exception:
        return ""


def check_upsampler_settings(model: Mapping[str, Any], extractor: str, where: object) -> None:
    """Check ``upsampler`` and ``upsampler_options`` of a ``[model]`` table: a string naming
    an installed upsampler, a table of options (checked by the upsampler's schema when it
    declares one), an ``extractor`` with patch features (when that can be told);
    ``ValueError`` starting with ``where`` and naming the problem."""
    name = model.get("upsampler")
    options = model.get("upsampler_options")
    if name is None:
        if options:
            raise ValueError(f"{where}: [model] upsampler_options given without an upsampler")
        return
    if not isinstance(name, str) or not name.strip():
        raise ValueError(
            f'{where}: [model] upsampler must be an upsampler name, e.g. "guided"; got {name!r}'
        )
    registry = get_upsampler_registry()
    if name not in registry.names():
        known = ", ".join(registry.names()) or "none"
        raise ValueError(
            f"{where}: [model] upsampler {name!r} is not installed (installed: {known}; "
            "`convpaint extractors` lists them)"
        )
    if options is not None and not isinstance(options, dict):
        raise ValueError(f"{where}: [model] upsampler_options must be a table")
    if takes_upsampler(extractor) is False:
        raise ValueError(
            f"{where}: [model] upsampler {name!r} applies to extractors with patch features "
            f"(patch_size > 1, e.g. dinov2); {extractor!r} has none"
        )
    schema = declared_upsampler_options(name)
    if schema is not None and options:
        try:
            validate(schema, options, owner=f"upsampler {name!r}")
        except OptionError as exc:
            raise ValueError(f"{where}: [model] upsampler_options: {exc}") from None
