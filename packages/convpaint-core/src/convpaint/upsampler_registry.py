"""Discovery of installed feature upsamplers: entry points ``convpaint.upsamplers``.

The same machinery and fault isolation as the extractors' (:mod:`convpaint.registry`):
each plugin's ``convpaint_upsamplers()`` hook is called through pluggy on its own, and a
plugin that fails to import, has a malformed hook, raises or returns anything but
upsamplers is skipped with one ``RuntimeWarning`` naming its package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import hookspecs
from .extractor import SAFE_PACKAGE
from .options import Option, validate
from .registry import Registry, _check_name, _short
from .upsampler import FeatureUpsampler, UpsamplerError, declaration_problems


class UpsamplerNotFoundError(KeyError):
    """No installed plugin provides the requested upsampler."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class UpsamplerConflictError(RuntimeError):
    """Two distributions register the same upsampler name."""


@dataclass(frozen=True)
class UpsamplerSpec:
    """What a plugin contributes: a name, a one-line description and a factory."""

    name: str
    description: str
    factory: Callable[..., FeatureUpsampler]
    distribution: str = ""  # filled in by the registry


class UpsamplerRegistry(Registry):
    """Upsamplers from every plugin of the ``convpaint.upsamplers`` entry-point group."""

    kind = "upsampler"
    hook = "convpaint_upsamplers"
    group = hookspecs.UPSAMPLER_GROUP
    expected = "FeatureUpsampler subclasses or UpsamplerSpec"
    not_found = UpsamplerNotFoundError
    conflict = UpsamplerConflictError

    def _as_spec(self, item: Any, distribution: str) -> UpsamplerSpec:
        if isinstance(item, UpsamplerSpec):
            name = _check_name(item.name, "an UpsamplerSpec")
            if not callable(item.factory):
                raise TypeError(f"the factory of upsampler {name!r} is not callable")
            return UpsamplerSpec(name, str(item.description), item.factory, distribution)
        if isinstance(item, type) and issubclass(item, FeatureUpsampler):
            name = _check_name(item.name, f"upsampler class {item.__qualname__}")
            return UpsamplerSpec(name, str(item.description), item, distribution)
        raise TypeError(f"{_short(item)} is not a FeatureUpsampler subclass or an UpsamplerSpec")


_REGISTRY: UpsamplerRegistry | None = None


def get_upsampler_registry(reload: bool = False) -> UpsamplerRegistry:
    """The process-wide upsampler registry, built from entry points on first use."""
    global _REGISTRY
    if _REGISTRY is None or reload:
        registry = UpsamplerRegistry()
        registry.load_entry_points()
        _REGISTRY = registry
    return _REGISTRY


def list_upsamplers() -> list[str]:
    """Names of the installed feature upsamplers."""
    return get_upsampler_registry().names()


def describe_upsampler(up: FeatureUpsampler | str, package: str | None = None) -> str:
    """``upsampler 'name' (package dist)`` for error messages."""
    name = up if isinstance(up, str) else getattr(up, "name", type(up).__name__)
    if package is None:
        spec = get_upsampler_registry()._specs.get(name)
        package = spec.distribution if spec is not None else ""
    text = f"upsampler {str(name)!r}"
    if package and SAFE_PACKAGE.fullmatch(package):
        text += f" (package {package})"
    return text


def check_upsampler(up: FeatureUpsampler, package: str | None = None) -> None:
    """Raise :class:`UpsamplerError` naming ``up`` when its declaration is unusable."""
    problems = declaration_problems(up)
    if problems:
        raise UpsamplerError(
            f"{describe_upsampler(up, package)} is misdeclared: {'; '.join(problems)}"
        )


def get_upsampler(name: str | FeatureUpsampler, **options: Any) -> FeatureUpsampler:
    """Build an installed upsampler by name (see :func:`list_upsamplers`), e.g.
    ``get_upsampler("guided", radius=2)``; an instance is checked and returned as is."""
    if isinstance(name, FeatureUpsampler):
        if options:
            raise TypeError("options cannot be applied to an upsampler instance")
        check_upsampler(name)
        return name
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"an upsampler is a name or a FeatureUpsampler, got {_short(name)}")
    spec = get_upsampler_registry().spec(name.strip())
    schema = getattr(spec.factory, "options", None)
    if isinstance(schema, tuple) and schema and all(isinstance(o, Option) for o in schema):
        options = validate(schema, options, owner=f"upsampler {spec.name!r}")
    try:
        up = spec.factory(**options)
    except (TypeError, ValueError, ImportError, OSError, MemoryError, UpsamplerError):
        raise  # the user's options or the environment; their messages say what to change
    except Exception as exc:
        who = describe_upsampler(spec.name, spec.distribution)
        raise UpsamplerError(f"{who} failed to build: {type(exc).__name__}: {exc}") from exc
    if not isinstance(up, FeatureUpsampler):
        raise UpsamplerError(
            f"{describe_upsampler(spec.name, spec.distribution)}: its factory returned "
            f"{_short(up, 60)}, not a FeatureUpsampler"
        )
    check_upsampler(up, spec.distribution)
    return up


def resolve_upsampler(upsampler: Any, options: Any) -> FeatureUpsampler | None:
    """``ConvpaintModel``'s ``upsampler=`` and ``upsampler_options=``: None (bilinear),
    a name or an instance."""
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"upsampler_options must be a dict, got {_short(options)}")
    if upsampler is None:
        if options:
            raise ValueError("upsampler_options given without an upsampler")
        return None
    return get_upsampler(upsampler, **(options or {}))
