"""The evaluation loop: scribbles -> train -> segment -> scores, one CSV row per run.

For every image, coverage level and extractor one row is appended (and flushed)
to ``results.csv`` in the output folder.  The scribbles of an image at a given
coverage are the same for every extractor.  A rerun skips the (image, coverage,
extractor) combinations already in the CSV, so an interrupted run resumes where
it stopped; failed runs are stored with their error and retried only with
``retry_failed=True``.  The scribble settings are stored in ``config.json``: a
rerun with other settings into the same folder is refused.

The extractor specs live in :mod:`.extractor_runs`, the scribbles in :mod:`.scribbling`,
the folder's files in :mod:`.results`; their public names are importable from here too.
"""

from __future__ import annotations

import csv
import json
import math
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..scribbles import ScribbleGenerator, labels_to_classes, scribble_coverage
from .datasets import Dataset
from .extractor_runs import (
    ExtractorRun,
    default_model_factory,
    extractor_label,
    make_extractor_runs,
    parse_options,
)
from .metrics import accuracy, iou_per_class
from .results import (
    CONFIG_NAME,
    CSV_NAME,
    FIELDS,
    LOG_NAME,
    check_config,
    fmt,
    format_coverage,
    log_run,
    read_rows,
    row_key,
    short_error,
)
from .scribbling import EvalConfig, ScribbleSettings, make_scribbles, scribble_seed

__all__ = [
    "CONFIG_NAME",
    "CSV_NAME",
    "FIELDS",
    "LOG_NAME",
    "EvalConfig",
    "ExtractorRun",
    "ScribbleSettings",
    "evaluate",
    "extractor_label",
    "format_coverage",
    "make_extractor_runs",
    "parse_options",
    "read_rows",
    "scribble_seed",
]


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
    check_config(out_dir, config.to_json())
    csv_path = out_dir / CSV_NAME

    done = set()
    for row in read_rows(csv_path):
        if not row.get("error") or not retry_failed:
            done.add(row_key(row["image"], row["coverage"], row["extractor"]))

    if model_factory is None:
        model_factory = default_model_factory(extractors)

    todo = [
        (s, c, r)
        for s in dataset
        for c in coverages
        for r in extractors
        if row_key(s.name, str(c), r.label) not in done
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
                load_error = short_error(exc)
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
                        scribble_cache[cov] = make_scribbles(
                            generator, mask, cov, seed, sample.name, scribbles
                        )
                    labels, error = scribble_cache[cov]
                else:
                    labels, error = None, load_error
                if error is None:
                    row["n_scribbled"] = int(np.count_nonzero(labels))
                    row["coverage_actual"] = fmt(100 * scribble_coverage(labels))
                    error = _run_one(model_factory, run, seed, image, axes, mask, labels, row)
                if error is not None:
                    row["error"] = error
                    n_failed += 1
                writer.writerow(row)
                f.flush()
                bar.update(1)
    if todo:
        wall = time.perf_counter() - started
        log_run(out_dir, len(todo), n_failed, wall, [r.label for r in extractors], coverages)
    return csv_path


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
    """Train, segment and score one run into ``row``; return the error message or None."""
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
        row["miou"] = fmt(float(np.mean(valid)) if valid else float("nan"))
        row["accuracy"] = fmt(accuracy(mask, pred))
        row["iou_per_class"] = json.dumps({str(k): round(v, 5) for k, v in ious.items()})
        row["train_s"] = f"{t1 - t0:.3f}"
        row["segment_s"] = f"{t2 - t1:.3f}"
        return None
    except Exception as exc:  # recorded as a row, not fatal
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" [{Path(tb[-1].filename).name}:{tb[-1].lineno}]" if tb else ""
        return short_error(exc) + where
