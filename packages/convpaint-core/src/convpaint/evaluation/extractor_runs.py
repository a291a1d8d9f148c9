"""The extractors an evaluation compares: ``NAME[:KEY=VALUE,...]`` specs, their labels in
the results, and the default model factory."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ExtractorRun:
    """An extractor with its options and the label used in results."""

    name: str
    options: tuple[tuple[str, Any], ...] = ()
    label: str = ""

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def options_json(self) -> str:
        return json.dumps(self.kwargs, sort_keys=True)


def extractor_label(name: str, options: dict[str, Any]) -> str:
    """``vgg16`` + ``{"weights": "random"}`` -> ``"vgg16 (random filters)"``."""
    parts = []
    rest = dict(options)
    if rest.get("weights") == "random":
        rest.pop("weights")
        parts.append("random filters")
    parts += [f"{k}={v}" for k, v in sorted(rest.items())]
    return f"{name} ({', '.join(parts)})" if parts else name


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_options(text: str) -> dict[str, Any]:
    """``"weights=random,layers=[0,1]"`` -> dict (values parsed as JSON when possible)."""
    out: dict[str, Any] = {}
    depth, start, items = 0, 0, []
    for i, ch in enumerate(text):  # split on commas outside brackets
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    for item in items:
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"extractor option {item!r} is not KEY=VALUE")
        out[key.strip()] = _parse_value(value.strip())
    return out


def make_extractor_runs(
    specs: Sequence[str], extra: Sequence[str] = (), labels: dict[str, str] | None = None
) -> list[ExtractorRun]:
    """Build runs from ``NAME[:k=v,...]`` specs and ``NAME:k=v`` extra options."""
    shared: dict[str, dict[str, Any]] = {}
    for item in extra:
        name, sep, opts = item.partition(":")
        if not sep:
            raise ValueError(f"--extractor-option {item!r} must look like NAME:KEY=VALUE")
        shared.setdefault(name.strip(), {}).update(parse_options(opts))
    runs = []
    for spec in specs:
        name, _, opts = spec.partition(":")
        name = name.strip()
        options = {**shared.get(name, {}), **parse_options(opts)}
        label = (labels or {}).get(spec) or extractor_label(name, options)
        runs.append(ExtractorRun(name, tuple(sorted(options.items())), label))
    unknown = set(shared) - {r.name for r in runs}
    if unknown:
        raise ValueError(f"options given for extractors not evaluated: {sorted(unknown)}")
    seen = set()
    for r in runs:
        if r.label in seen:
            raise ValueError(f"extractor {r.label!r} given twice")
        seen.add(r.label)
    return runs


def default_model_factory(
    extractors: Sequence[ExtractorRun],
) -> Callable[[ExtractorRun, int], Any]:
    """``(run, seed) -> ConvpaintModel``; every extractor is built once, up front."""
    from .. import get_extractor
    from ..model import ConvpaintModel

    # build each extractor once, up front (unknown names and bad options fail here,
    # before any row is written); a fresh classifier per run
    built = {r.label: get_extractor(r.name, **r.kwargs) for r in extractors}

    def factory(run: ExtractorRun, seed: int) -> Any:
        return ConvpaintModel(extractor=built[run.label], seed=seed, progress=False)

    return factory
