"""Discovery of installed extractors through entry points and pluggy."""

from __future__ import annotations

import importlib.metadata as md
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from . import hookspecs
from .extractor import FeatureExtractor


class ExtractorNotFoundError(KeyError):
    """No installed plugin provides the requested extractor."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class ExtractorConflictError(RuntimeError):
    """Two distributions register the same extractor name."""


@dataclass(frozen=True)
class ExtractorSpec:
    """What a plugin contributes: a name, a one-line description and a factory."""

    name: str
    description: str
    factory: Callable[..., FeatureExtractor]
    distribution: str = ""  # filled in by the registry


class Registry:
    """Extractors from every plugin registered in ``pluggy``."""

    def __init__(self) -> None:
        self.plugin_manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.plugin_manager.add_hookspecs(hookspecs)
        self._specs: dict[str, ExtractorSpec] = {}
        self._conflicts: dict[str, list[str]] = {}

    def load_entry_points(self) -> None:
        for ep in md.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not break the others
                warnings.warn(
                    f"convpaint: skipping extractor plugin {ep.name!r} from {dist}: "
                    f"{type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )
                continue
            self.register(module, dist, name=f"{dist}:{ep.name}")

    def register(self, plugin: Any, distribution: str, name: str | None = None) -> None:
        """Register a plugin object (module or instance) with ``convpaint_extractors``."""
        if self.plugin_manager.is_registered(plugin):
            return
        self.plugin_manager.register(plugin, name=name)
        hook = getattr(plugin, "convpaint_extractors", None)
        if hook is None:
            return
        try:
            items = hook()
        except Exception as exc:
            warnings.warn(
                f"convpaint: extractor plugin from {distribution} failed: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        for item in items or ():
            self._add(_as_spec(item, distribution))

    def _add(self, spec: ExtractorSpec) -> None:
        old = self._specs.get(spec.name)
        if old is not None and old.distribution != spec.distribution:
            self._conflicts.setdefault(spec.name, [old.distribution]).append(spec.distribution)
            return
        self._specs[spec.name] = spec

    def _check_conflict(self, name: str) -> None:
        if name in self._conflicts:
            dists = " and ".join(sorted(set(self._conflicts[name])))
            raise ExtractorConflictError(
                f"extractor name {name!r} is registered by both {dists}; uninstall one of them"
            )

    def names(self) -> list[str]:
        for name in self._conflicts:
            dists = ", ".join(self._conflicts[name])
            warnings.warn(f"convpaint: extractor {name!r} registered by {dists}", stacklevel=2)
        return sorted(self._specs)

    def spec(self, name: str) -> ExtractorSpec:
        self._check_conflict(name)
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "none"
            raise ExtractorNotFoundError(
                f"no extractor named {name!r} is installed (installed: {known})"
            ) from None

    def specs(self) -> list[ExtractorSpec]:
        return [self._specs[n] for n in sorted(self._specs)]


def _as_spec(item: Any, distribution: str) -> ExtractorSpec:
    if isinstance(item, ExtractorSpec):
        return ExtractorSpec(item.name, item.description, item.factory, distribution)
    if isinstance(item, type) and issubclass(item, FeatureExtractor):
        if not item.name:
            raise ValueError(f"extractor class {item.__qualname__} from {distribution} has no name")
        return ExtractorSpec(item.name, item.description, item, distribution)
    raise TypeError(
        f"plugin {distribution} returned {item!r}; expected a FeatureExtractor subclass "
        "or an ExtractorSpec"
    )


_REGISTRY: Registry | None = None


def get_registry(reload: bool = False) -> Registry:
    """The process-wide registry, built from entry points on first use."""
    global _REGISTRY
    if _REGISTRY is None or reload:
        registry = Registry()
        registry.load_entry_points()
        _REGISTRY = registry
    return _REGISTRY


def list_extractors() -> list[str]:
    """Names of the installed extractors."""
    return get_registry().names()


def get_extractor(name: str | list[str] | FeatureExtractor, **options: Any) -> FeatureExtractor:
    """Build an extractor by name.

    ``"vgg16+ilastik"`` or ``["vgg16", "ilastik"]`` builds a
    :class:`convpaint.combine.ConcatExtractor`; ``options`` then go to the
    parts as ``{"vgg16": {...}, "ilastik": {...}}`` keyed by part name.
    """
    if isinstance(name, FeatureExtractor):
        if options:
            raise TypeError("options cannot be applied to an extractor instance")
        return name
    parts = name if isinstance(name, (list, tuple)) else str(name).split("+")
    parts = [p.strip() for p in parts if p.strip()]
    if not parts:
        raise ValueError("empty extractor name")
    if len(parts) > 1:
        from .combine import ConcatExtractor

        unknown = set(options) - set(parts)
        if unknown:
            raise TypeError(
                f"options for a combined extractor must be keyed by part name "
                f"({', '.join(parts)}); got {', '.join(sorted(unknown))}"
            )
        return ConcatExtractor([get_extractor(p, **dict(options.get(p, {}))) for p in parts])
    return get_registry().spec(parts[0]).factory(**options)
