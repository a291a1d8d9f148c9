"""Discovery of installed extractors through entry points and pluggy."""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import inspect
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy

from . import hookspecs
from .extractor import (
    NAME,
    ExtractorError,
    FeatureExtractor,
    check_declaration,
    declaration_problems,
    describe,
)


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


HOOK = "convpaint_extractors"


class _PluginManager(pluggy.PluginManager):
    """pluggy, also accepting a module-level hook (``convpaint_extractors``) without
    ``@hookimpl`` (older plugins relied on it)."""

    def __init__(self, project: str, hook: str = HOOK) -> None:
        super().__init__(project)
        self.hook_name = hook

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if (
            opts is None
            and name == self.hook_name
            and inspect.isfunction(getattr(plugin, name, None))
        ):
            return pluggy.HookimplOpts(
                wrapper=False,
                hookwrapper=False,
                optionalhook=False,
                tryfirst=False,
                trylast=False,
                specname=None,
            )
        return opts


class Registry:
    """Extractors from every plugin registered in ``pluggy``.

    A faulty plugin -- one that fails to import, has a malformed hook, raises in
    its hook or returns something other than extractors -- is skipped with one
    ``RuntimeWarning`` naming its package; the others are unaffected.  Subclasses
    (:mod:`convpaint.upsampler_registry`) set the class attributes for another plugin kind.
    """

    kind = "extractor"
    hook = HOOK
    group = hookspecs.ENTRY_POINT_GROUP
    expected = "FeatureExtractor subclasses or ExtractorSpec"
    not_found: type[KeyError] = ExtractorNotFoundError
    conflict: type[RuntimeError] = ExtractorConflictError

    def __init__(self) -> None:
        self.plugin_manager = _PluginManager(hookspecs.PROJECT, self.hook)
        self.plugin_manager.add_hookspecs(hookspecs)
        self._specs: dict[str, Any] = {}
        self._conflicts: dict[str, list[str]] = {}

    def load_entry_points(self) -> None:
        for ep in md.entry_points(group=self.group):
            dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
            try:
                module = ep.load()
            except (Exception, SystemExit) as exc:  # a broken plugin must not break the others
                self._skip(ep.name, dist, f"importing it failed: {type(exc).__name__}: {exc}")
                continue
            self.register(module, dist, name=f"{dist}:{ep.name}")

    def register(self, plugin: Any, distribution: str, name: str | None = None) -> None:
        """Register a plugin object (module or instance) and add its extractors."""
        pm = self.plugin_manager
        if pm.is_registered(plugin):
            return
        label = (name or getattr(plugin, "__name__", "") or repr(plugin)).split(":")[-1]
        try:
            pm.register(plugin, name=name)
        except Exception as exc:  # PluginValidationError: a hook with a wrong signature
            self._skip(label, distribution, f"its hook is malformed: {type(exc).__name__}: {exc}")
            return
        try:
            specs = self._call(plugin, distribution)
        except _Faulty as exc:
            pm.unregister(plugin)
            self._skip(label, distribution, str(exc))
            return
        for spec in specs:
            self._add(spec)

    def _call(self, plugin: Any, distribution: str) -> list[Any]:
        """This plugin's hook result, called through pluggy, as validated specs."""
        pm, hook = self.plugin_manager, self.hook
        if not any(impl.plugin is plugin for impl in getattr(pm.hook, hook).get_hookimpls()):
            raise _Faulty(f"it has no {hook}() hook")
        others = [p for p in pm.get_plugins() if p is not plugin]
        try:
            results = pm.subset_hook_caller(hook, remove_plugins=others)()
            items = results[0] if results else None
            if isinstance(items, (str, bytes, dict)) or not isinstance(items, Iterable):
                raise _Faulty(
                    f"{hook}() returned {_short(items)}; expected a list of {self.expected}"
                )
            items = list(items)
        except _Faulty:
            raise
        except (Exception, SystemExit) as exc:
            raise _Faulty(f"{hook}() raised {type(exc).__name__}: {exc}") from exc
        specs, problems = [], []
        for item in items:
            try:
                specs.append(self._as_spec(item, distribution))
            except (TypeError, ValueError) as exc:
                problems.append(str(exc))
            except Exception as exc:  # e.g. a ``name`` property that raises
                problems.append(f"{_short(item)}: {type(exc).__name__}: {exc}")
        if problems:
            raise _Faulty(f"{hook}() returned unusable items: {'; '.join(problems)}")
        return specs

    def _as_spec(self, item: Any, distribution: str) -> Any:
        return _as_spec(item, distribution)

    def _skip(self, plugin: str, distribution: str, reason: str) -> None:
        warnings.warn(
            f"convpaint: skipping {self.kind} plugin {plugin!r} from package {distribution}: "
            f"{reason}",
            RuntimeWarning,
            stacklevel=3,
        )

    def _add(self, spec: Any) -> None:
        old = self._specs.get(spec.name)
        if old is not None and old.distribution != spec.distribution:
            self._conflicts.setdefault(spec.name, [old.distribution]).append(spec.distribution)
            return
        self._specs[spec.name] = spec

    def _check_conflict(self, name: str) -> None:
        if name in self._conflicts:
            dists = " and ".join(sorted(set(self._conflicts[name])))
            raise self.conflict(
                f"{self.kind} name {name!r} is registered by both {dists}; uninstall one of them"
            )

    def names(self) -> list[str]:
        for name in self._conflicts:
            dists = ", ".join(self._conflicts[name])
            warnings.warn(f"convpaint: {self.kind} {name!r} registered by {dists}", stacklevel=2)
        return sorted(self._specs)

    def spec(self, name: str) -> Any:
        self._check_conflict(name)
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "none"
            raise self.not_found(
                f"no {self.kind} named {name!r} is installed (installed: {known})"
            ) from None

    def specs(self) -> list[Any]:
        return [self._specs[n] for n in sorted(self._specs)]


class _Faulty(Exception):
    """Why a plugin is skipped."""


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:  # a plugin's object with a broken __repr__
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ValueError(
            f"{what} has an invalid name {_short(name)} (letters, digits, '.', '_', '-')"
        )
    return name


def _as_spec(item: Any, distribution: str) -> ExtractorSpec:
    if isinstance(item, ExtractorSpec):
        name = _check_name(item.name, "an ExtractorSpec")
        if not callable(item.factory):
            raise TypeError(f"the factory of extractor {name!r} is not callable")
        return ExtractorSpec(name, str(item.description), item.factory, distribution)
    if isinstance(item, type) and issubclass(item, FeatureExtractor):
        name = _check_name(item.name, f"extractor class {item.__qualname__}")
        return ExtractorSpec(name, str(item.description), item, distribution)
    raise TypeError(f"{_short(item)} is not a FeatureExtractor subclass or an ExtractorSpec")


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
        for part in getattr(name, "parts", [name]):
            check_instance(part)
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
    spec = get_registry().spec(parts[0])
    try:
        ex = spec.factory(**options)
    except (TypeError, ValueError, ImportError, OSError, MemoryError, ExtractorError):
        raise  # the user's options or the environment; their messages say what to change
    except Exception as exc:
        who = describe(spec.name, spec.distribution)
        raise ExtractorError(f"{who} failed to build: {type(exc).__name__}: {exc}") from exc
    if not isinstance(ex, FeatureExtractor):
        raise ExtractorError(
            f"{describe(spec.name, spec.distribution)}: its factory returned {_short(ex, 60)}, "
            "not a FeatureExtractor"
        )
    check_declaration(ex, spec.distribution)
    return ex


def package_of(ex: FeatureExtractor) -> str:
    """The distribution that provides ``ex`` (``""`` when unknown); wrappers are unwrapped.

    Looked up in the registry: the spec of that name, else one whose factory class comes
    from the same top-level module (no scan of every installed distribution's files).
    """
    base = getattr(ex, "base", ex)
    specs = get_registry()._specs
    spec = specs.get(getattr(base, "name", None))  # type: ignore[arg-type]
    if spec is not None and (not isinstance(spec.factory, type) or isinstance(base, spec.factory)):
        return spec.distribution
    top = type(base).__module__.partition(".")[0]
    dists = {
        s.distribution
        for s in specs.values()
        if getattr(s.factory, "__module__", "").partition(".")[0] == top
    }
    return dists.pop() if len(dists) == 1 else ""


def check_instance(ex: FeatureExtractor) -> None:
    """:func:`~convpaint.extractor.check_declaration`, looking the package up only on error."""
    if declaration_problems(ex):
        check_declaration(ex, package_of(ex))


def describe_extractor(ex: FeatureExtractor) -> str:
    """``extractor 'name' (package dist)`` for error messages."""
    return describe(getattr(ex, "name", type(ex).__name__), package_of(ex))


def package_versions(distributions: Sequence[str]) -> dict[str, str]:
    """``{distribution: version}`` of the installed ones (unknown ones left out)."""
    found = {}
    for name in sorted(set(distributions) - {""}):
        with contextlib.suppress(md.PackageNotFoundError, ValueError):
            found[name] = md.version(name)
    return found
