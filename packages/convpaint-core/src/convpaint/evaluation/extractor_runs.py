"""The extractors an evaluation compares: ``NAME[:KEY=VALUE,...]`` specs, their labels in
the results, and the default model factory.

Two keys of a spec are not extractor options: ``upsampler=NAME`` gives the run a feature
upsampler (``ConvpaintModel(upsampler=NAME)``; patch extractors only) and
``upsampler.KEY=VALUE`` its options, e.g. ``dinov2:weights=random,upsampler=jafar,
upsampler.weights=random``.  Runs of one extractor with and without an upsampler can then
be compared in one (interleaved) evaluation."""

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
    upsampler: str | None = None
    upsampler_options: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        """The extractor's options."""
        return dict(self.options)

    @property
    def options_json(self) -> str:
        """The extractor options as JSON (the CSV's ``extractor_options``); a run with an
        upsampler adds ``"upsampler"`` and ``"upsampler_options"``."""
        out = self.kwargs
        if self.upsampler is not None:
            out["upsampler"] = self.upsampler
            out["upsampler_options"] = dict(self.upsampler_options)
        return json.dumps(out, sort_keys=True)


UPSAMPLER_KEY = "upsampler"
UPSAMPLER_PREFIX = "upsampler."


def extractor_label(name: str, options: dict[str, Any]) -> str:
    """``vgg16`` + ``{"weights": "random"}`` -> ``"vgg16 (random filters)"``."""
    parts = []
    rest = dict(options)
    if rest.get("weights") == "random":
        rest.pop("weights")
        parts.append("random filters")
    parts += [f"{k}={v}" for k, v in sorted(rest.items())]
    return f"{name} ({', '.join(parts)})" if parts else name


def upsampler_label(name: str, options: dict[str, Any]) -> str:
    """``jafar`` + ``{"weights": "random"}`` -> ``"jafar (random weights)"``."""
    rest = dict(options)
    parts = ["random weights"] if rest.pop("weights", None) == "random" else []
    parts += [f"{k}={v}" for k, v in sorted(rest.items())]
    return f"{name} ({', '.join(parts)})" if parts else name


def split_upsampler(
    spec: str, options: dict[str, Any]
) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
    """Extractor options, upsampler name (or None) and upsampler options of a spec's
    merged options (``upsampler=NAME``, ``upsampler.KEY=VALUE``)."""
    rest = dict(options)
    name = rest.pop(UPSAMPLER_KEY, None)
    up_opts = {
        k[len(UPSAMPLER_PREFIX) :]: rest.pop(k)
        for k in list(rest)
        if k.startswith(UPSAMPLER_PREFIX)
    }
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"extractor {spec!r}: upsampler must be a name, got {name!r}")
    if name is None and up_opts:
        keys = ", ".join(UPSAMPLER_PREFIX + k for k in sorted(up_opts))
        raise ValueError(f"extractor {spec!r}: {keys} given without upsampler=NAME")
    if any(not k for k in up_opts):
        raise ValueError(f"extractor {spec!r}: an upsampler option needs a name after 'upsampler.'")
    return rest, (name.strip() if name is not None else None), up_opts


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
        merged = {**shared.get(name, {}), **parse_options(opts)}
        options, up, up_opts = split_upsampler(spec, merged)
        label = (labels or {}).get(spec) or extractor_label(name, options)
        if up is not None and not (labels or {}).get(spec):
            label = f"{label} + {upsampler_label(up, up_opts)}"
        runs.append(
            ExtractorRun(
                name, tuple(sorted(options.items())), label, up, tuple(sorted(up_opts.items()))
            )
        )
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
    """``(run, seed) -> ConvpaintModel``; every extractor and upsampler is built once, up
    front."""
    from .. import get_extractor
    from ..model import ConvpaintModel
    from ..upsampler_registry import get_upsampler

    # build each extractor and upsampler once, up front (unknown names, bad options and an
    # upsampler on an extractor without patch features fail here, before any row is
    # written); a fresh classifier per run
    built = {r.label: get_extractor(r.name, **r.kwargs) for r in extractors}
    ups = {
        r.label: get_upsampler(r.upsampler, **dict(r.upsampler_options))
        for r in extractors
        if r.upsampler is not None
    }

    def factory(run: ExtractorRun, seed: int) -> Any:
        return ConvpaintModel(
            extractor=built[run.label],
            seed=seed,
            progress=False,
            upsampler=ups.get(run.label),
        )

    for label in ups:  # ValueError now for an extractor the upsampler cannot apply to
        factory(next(r for r in extractors if r.label == label), 0)

    return factory
