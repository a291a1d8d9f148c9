"""The evaluation loop: scribbles -> train -> segment -> scores, one CSV row per run.

For every image, coverage level and extractor one row is appended (and flushed)
to ``results.csv`` in the output folder.  The scribbles of an image at a given
coverage are the same for every extractor.  A rerun skips the (image, coverage,
extractor) combinations already in the CSV, so an interrupted run resumes where
it stopped; failed runs are stored with their error and retried only with
``retry_failed=True``.  The scribble settings are stored in ``config.json``: a
rerun with other settings into the same folder is refused.
"""

from __future__ import annotations

import csv
import json
import math
import time
import traceback
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..scribbles import KINDS, ScribbleGenerator, labels_to_classes, scribble_coverage
from .datasets import Dataset
from .metrics import accuracy, iou_per_class

CSV_NAME = "results.csv"
CONFIG_NAME = "config.json"
LOG_NAME = "runs.jsonl"
FIELDS = [
    "dataset",
    "image",
    "modality",
    "height",
    "width",
    "coverage",
    "coverage_actual",
    "n_scribbled",
    "extractor",
    "extractor_name",
    "extractor_options",
    "seed",
    "miou",
    "accuracy",
    "iou_per_class",
    "train_s",
    "segment_s",
    "error",
]


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


@dataclass(frozen=True)
class ScribbleSettings:
    """Parameters of :func:`convpaint.scribbles.generate_scribbles` used for every image."""

    line_length: int = 20
    line_width: int = 1
    kinds: tuple[str, ...] = KINDS
    min_pixels_per_class: int = 4


@dataclass
class EvalConfig:
    """Everything that determines the scribbles (must not change within an output folder)."""

    dataset: str
    masks: str
    seed: int
    scribbles: ScribbleSettings = field(default_factory=ScribbleSettings)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["scribbles"]["kinds"] = list(self.scribbles.kinds)
        return d


def scribble_seed(seed: int, image: str, coverage: float) -> int:
    """Per (image, coverage) seed, stable across runs and Python versions."""
    ss = np.random.SeedSequence([seed, zlib.crc32(image.encode()), round(coverage * 1e6)])
    return int(ss.generate_state(1)[0])


def format_coverage(percent: float) -> str:
    return f"{percent:g}"


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    """All rows of a results CSV (empty list if absent)."""
    if not csv_path.is_file():
        return []
    with csv_path.open(newline="") as f:
        return list(csv.DictReader(f))


def _row_key(image: str, coverage: str, extractor: str) -> tuple[str, str, str]:
    return (image, format_coverage(float(coverage)), extractor)


def _check_config(out_dir: Path, config: EvalConfig) -> None:
    path = out_dir / CONFIG_NAME
    new = config.to_json()
    if path.is_file():
        old = json.loads(path.read_text())
        if {k: v for k, v in old.items() if k != "dataset"} != {
            k: v for k, v in new.items() if k != "dataset"
        }:
            raise ValueError(
                f"{out_dir} holds results made with other settings ({old}); "
                "use another output folder or delete it"
            )
        return
    path.write_text(json.dumps(new, indent=2) + "\n")


def _fmt(x: float, digits: int = 5) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def _short_error(exc: BaseException) -> str:
    msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return msg[:500]


def evaluate(
    dataset: Dataset,
    extractors: Sequence[ExtractorRun],
    coverages: Iterable[float],
    out_dir: str | Path,
    *,
    seed: int = 0,
    scribbles: ScribbleSettings | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    model_factory: Callable[[ExtractorRun, int], Any] | None = None,
) -> Path:
    """Run the evaluation; append rows to ``out_dir/results.csv`` and return its path.

    Parameters
    ----------
    dataset : from :func:`~convpaint.evaluation.datasets.open_dataset`.
    extractors : what to compare (:func:`make_extractor_runs`).
    coverages : scribble coverage levels in percent of the image pixels.
    seed : seeds the scribbles (with image name and coverage) and the random forest.
    model_factory : ``(run, seed) -> model`` with ``train``/``segment``; default
        :class:`convpaint.ConvpaintModel`.
    """
    from tqdm.auto import tqdm

    scribbles = scribbles or ScribbleSettings()
    coverages = [float(c) for c in coverages]
    if not coverages or any(not 0 < c <= 100 for c in coverages):
        raise ValueError(f"coverages must be percentages in (0, 100], got {coverages}")
    if not extractors:
        raise ValueError("no extractor to evaluate")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = EvalConfig(str(dataset.root), dataset.masks, seed, scribbles)
    _check_config(out_dir, config)
    csv_path = out_dir / CSV_NAME

    done = set()
    for row in read_rows(csv_path):
        if not row.get("error") or not retry_failed:
            done.add(_row_key(row["image"], row["coverage"], row["extractor"]))

    if model_factory is None:
        model_factory = _default_model_factory(extractors)

    todo = [
        (s, c, r)
        for s in dataset
        for c in coverages
        for r in extractors
        if _row_key(s.name, str(c), r.label) not in done
    ]
    total = len(dataset) * len(coverages) * len(extractors)
    new_file = not csv_path.is_file() or csv_path.stat().st_size == 0
    started = time.perf_counter()
    n_failed = 0
    with (
        csv_path.open("a", newline="") as f,
        tqdm(total=total, initial=total - len(todo), disable=not progress, unit="run") as bar,
    ):
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        by_image: dict[str, list] = {}
        for s, c, r in todo:
            by_image.setdefault(s.name, []).append((s, c, r))
        for jobs in by_image.values():
            sample = jobs[0][0]
            bar.set_postfix_str(sample.name)
            try:
                image, mask, axes = sample.load(dataset.masks)
                load_error = None
            except Exception as exc:  # recorded as a row, not fatal
                image = mask = axes = None
                load_error = _short_error(exc)
            scribble_cache: dict[float, tuple[np.ndarray | None, str | None]] = {}
            generator: list[ScribbleGenerator] = []  # built on first use, shared by coverages
            for _, cov, run in jobs:
                base = {
                    "dataset": dataset.name,
                    "image": sample.name,
                    "modality": sample.modality,
                    "coverage": format_coverage(cov),
                    "extractor": run.label,
                    "extractor_name": run.name,
                    "extractor_options": run.options_json,
                    "seed": seed,
                }
                row = dict.fromkeys(FIELDS, "")
                row.update(base)
                if load_error is None:
                    row["height"], row["width"] = mask.shape
                    if cov not in scribble_cache:
                        scribble_cache[cov] = _make_scribbles(
                            generator, mask, cov, seed, sample.name, scribbles
                        )
                    labels, error = scribble_cache[cov]
                else:
                    labels, error = None, load_error
                if error is None:
                    row["n_scribbled"] = int(np.count_nonzero(labels))
                    row["coverage_actual"] = _fmt(100 * scribble_coverage(labels))
                    error = _run_one(model_factory, run, seed, image, axes, mask, labels, row)
                if error is not None:
                    row["error"] = error
                    n_failed += 1
                writer.writerow(row)
                f.flush()
                bar.update(1)
    if todo:
        wall = time.perf_counter() - started
        _log_run(out_dir, len(todo), n_failed, wall, extractors, coverages)
    return csv_path


def _make_scribbles(
    generator: list[ScribbleGenerator],
    mask: np.ndarray,
    cov: float,
    seed: int,
    name: str,
    settings: ScribbleSettings,
) -> tuple[np.ndarray | None, str | None]:
    try:
        if not generator:
            generator.append(
                ScribbleGenerator(
                    mask,
                    line_length=settings.line_length,
                    line_width=settings.line_width,
                    kinds=settings.kinds,
                    min_pixels_per_class=settings.min_pixels_per_class,
                )
            )
        return generator[0](cov / 100, seed=scribble_seed(seed, name, cov)), None
    except Exception as exc:  # recorded as a row, not fatal
        return None, _short_error(exc)


def _run_one(
    factory: Callable[[ExtractorRun, int], Any],
    run: ExtractorRun,
    seed: int,
    image: np.ndarray,
    axes: str,
    mask: np.ndarray,
    labels: np.ndarray,
    row: dict[str, Any],
) -> str | None:
    try:
        model = factory(run, seed)
        t0 = time.perf_counter()
        model.train(image, labels, axes=axes)
        t1 = time.perf_counter()
        pred = model.segment(image, axes=axes)
        t2 = time.perf_counter()
        pred = labels_to_classes(pred)
        classes = np.union1d(np.unique(mask), np.unique(pred)).tolist()
        ious = iou_per_class(mask, pred, classes)
        valid = [v for v in ious.values() if not math.isnan(v)]
        row["miou"] = _fmt(float(np.mean(valid)) if valid else float("nan"))
        row["accuracy"] = _fmt(accuracy(mask, pred))
        row["iou_per_class"] = json.dumps({str(k): round(v, 5) for k, v in ious.items()})
        row["train_s"] = f"{t1 - t0:.3f}"
        row["segment_s"] = f"{t2 - t1:.3f}"
        return None
    except Exception as exc:  # recorded as a row, not fatal
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" [{Path(tb[-1].filename).name}:{tb[-1].lineno}]" if tb else ""
        return _short_error(exc) + where


def _default_model_factory(
    extractors: Sequence[ExtractorRun],
) -> Callable[[ExtractorRun, int], Any]:
    from .. import get_extractor
    from ..model import ConvpaintModel

    # build each extractor once, up front (unknown names and bad options fail here,
    # before any row is written); a fresh classifier per run
    built = {r.label: get_extractor(r.name, **r.kwargs) for r in extractors}

    def factory(run: ExtractorRun, seed: int) -> Any:
        return ConvpaintModel(extractor=built[run.label], seed=seed, progress=False)

    return factory


def _log_run(
    out_dir: Path,
    n_rows: int,
    n_failed: int,
    seconds: float,
    extractors: Sequence[ExtractorRun],
    coverages: Sequence[float],
) -> None:
    entry = {
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows_computed": n_rows,
        "rows_failed": n_failed,
        "wall_s": round(seconds, 1),
        "extractors": [r.label for r in extractors],
        "coverages": list(coverages),
    }
    with (out_dir / LOG_NAME).open("a") as f:
        f.write(json.dumps(entry) + "\n")
