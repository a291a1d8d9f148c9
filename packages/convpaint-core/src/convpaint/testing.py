"""The extractor conformance kit: does an extractor keep the contract the core relies on?

``check_extractor("sobel")`` runs every check and raises one :class:`ConformanceError`
(an ``AssertionError``) naming the extractor, each failed check and what was wrong;
``extractor_checks(...)`` gives the checks one by one, e.g. for ``pytest.mark.parametrize``::

    from convpaint.testing import check_extractor, extractor_checks

    def test_conformance():
        check_extractor("sobel")

    @pytest.mark.parametrize("check", extractor_checks("sobel"), ids=str)
    def test_each(check):
        skipped = check.run()  # None: passed; else why it does not apply
        if skipped:
            pytest.skip(skipped)

The checks: declaration, options (JSON, rebuild), option schema (when declared),
direct ``extract`` (shape, dtype, finite values, the input untouched), clear errors on
wrong-shaped planes, determinism, train + segment through :class:`ConvpaintModel` for
1 and 3 channels at odd sizes and on an image smaller than the padding and the patch,
tiled == untiled (when ``deterministic``), the model-file round trip, 3-D (when
``supports_volume``) and no torch/timm import when the plugin module is imported.
pytest is not needed. Images are small: a CNN with random weights takes a few seconds.
"""

from __future__ import annotations

import functools
import importlib.metadata as md
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .conformance import Problem, Subject, fail
from .extractor import FeatureExtractor
from .hookspecs import ENTRY_POINT_GROUP
from .registry import get_registry
from .testing_plugins import NearestPatches, PatchStats, plugin_module, registered

#: modules an extractor plugin must not import when its entry-point module is imported
HEAVY_MODULES = ("torch", "torchvision", "timm", "cellpose", "tensorflow", "jax")

__all__ = [
    "Check",
    "ConformanceError",
    "NearestPatches",
    "PatchStats",
    "check_extractor",
    "extractor_checks",
    "plugin_module",
    "registered",
]


class ConformanceError(AssertionError):
    """An extractor fails conformance checks; ``failures`` holds (check, problem) pairs."""

    def __init__(self, extractor: str, failures: Sequence[tuple[str, str]]) -> None:
        self.extractor = extractor
        self.failures = list(failures)
        if len(self.failures) == 1:
            check, problem = self.failures[0]
            text = f"extractor {extractor!r} fails conformance check {check!r}: {problem}"
        else:
            lines = "".join(f"\n  {c}: {p}" for c, p in self.failures)
            text = f"extractor {extractor!r} fails {len(self.failures)} conformance checks:{lines}"
        super().__init__(text)

    @property
    def checks(self) -> list[str]:
        """Names of the failed checks."""
        return [c for c, _ in self.failures]


@dataclass(frozen=True)
class Check:
    """One named conformance check of one extractor."""

    name: str
    extractor: str
    func: Callable[[], str | None]

    def run(self) -> str | None:
        """Run it: None when it passed, the reason when it does not apply; raises
        :class:`ConformanceError` when it fails."""
        try:
            return self.func()
        except Problem as exc:
            problem = str(exc)
        except Exception as exc:  # the extractor (or the core on its behalf) raised
            problem = f"raised {type(exc).__name__}: {exc}"
        raise ConformanceError(self.extractor, [(self.name, problem)])

    def __str__(self) -> str:
        return self.name


def check_extractor(
    cls_or_name: str | type[FeatureExtractor],
    options: dict[str, Any] | None = None,
    *,
    channels: Sequence[int] = (1, 3),
    quick: bool = False,
) -> None:
    """Run every check of :func:`extractor_checks`; raise one :class:`ConformanceError`
    listing all failures."""
    failures: list[tuple[str, str]] = []
    label = ""
    for check in extractor_checks(cls_or_name, options, channels=channels, quick=quick):
        label = check.extractor
        try:
            check.run()
        except ConformanceError as exc:
            failures += exc.failures
    if failures:
        raise ConformanceError(label, failures)


def extractor_checks(
    cls_or_name: str | type[FeatureExtractor],
    options: dict[str, Any] | None = None,
    *,
    channels: Sequence[int] = (1, 3),
    quick: bool = False,
) -> list[Check]:
    """The checks of an extractor, by registry name or class, built with ``options``.

    ``channels``: image channel counts run through train + segment; ``quick``: only the
    first of them, no volumetric model and no fresh-instance comparison. Nothing is built
    until a check runs.
    """
    s = Subject(cls_or_name, options, channels, quick)
    first = ["declaration", "options", "option_schema", "extract", "bad_plane", "determinism"]
    last = ["small_image", "tiled_untiled", "model_file", "volume"]
    checks = [Check(n, s.label, getattr(s, f"check_{n}")) for n in first]
    for c in s.channels:
        checks.append(Check(f"train_segment_{c}ch", s.label, functools.partial(s.check_core, c)))
    checks += [Check(n, s.label, getattr(s, f"check_{n}")) for n in last]
    return checks + [Check("plugin_import", s.label, lambda: _check_plugin_import(s))]


_IMPORT_PROBE = (
    "import importlib, json, sys\n"
    "sys.path[:0] = json.loads(sys.argv[1])\n"
    "m = importlib.import_module(sys.argv[2])\n"
    "hook = getattr(m, 'convpaint_extractors', None)\n"
    "callable(hook) and hook()\n"
    "heavy = set(json.loads(sys.argv[3]))\n"
    "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in heavy)))\n"
)


def _check_plugin_import(s: Subject) -> str | None:
    """Importing the plugin module (and calling its hook) in a fresh interpreter imports
    none of :data:`HEAVY_MODULES`."""
    modules = plugin_modules(s.ex, s.cls)
    if not modules:
        return "no importable plugin module (a class defined in __main__)"
    for module in modules:
        args = [sys.executable, "-c", _IMPORT_PROBE, json.dumps(sys.path), module]
        done = subprocess.run(
            [*args, json.dumps(HEAVY_MODULES)], capture_output=True, text=True, timeout=300
        )
        if done.returncode:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            fail(f"importing its plugin module {module!r} failed: {last}")
        heavy = json.loads(done.stdout.strip().splitlines()[-1])
        if heavy:
            tops = ", ".join(sorted({h.split(".")[0] for h in heavy}))
            fail(
                f"importing its plugin module {module!r} (and calling its hook) imports "
                f"{tops}; import them inside the functions that need them"
            )
    return None


def plugin_modules(ex: FeatureExtractor, cls: type | None = None) -> list[str]:
    """The entry-point modules of the distribution that registers ``ex``, else its module."""
    spec = get_registry()._specs.get(str(ex.name))
    if spec is not None and spec.distribution and (cls is None or spec.factory is cls):
        found = {
            ep.value.partition(":")[0]
            for ep in md.entry_points(group=ENTRY_POINT_GROUP)
            if ep.dist is not None and ep.dist.name == spec.distribution
        }
        if found:
            return sorted(found)
    module = type(ex).__module__
    return [] if module == "__main__" else [module]
