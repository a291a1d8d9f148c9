"""The files of an evaluation folder: ``results.csv`` (one row per run), ``config.json``
(the scribble settings) and ``runs.jsonl`` (one line per invocation), and how cells are
written."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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


def format_coverage(percent: float) -> str:
    return f"{percent:g}"


def read_rows(csv_path: Path) -> list[dict[str, str]]:
    """All rows of a results CSV (empty list if absent)."""
    if not csv_path.is_file():
        return []
    with csv_path.open(newline="") as f:
        return list(csv.DictReader(f))


def row_key(image: str, coverage: str, extractor: str) -> tuple[str, str, str]:
    """What identifies a run: (image, coverage as written, extractor label)."""
    return (image, format_coverage(float(coverage)), extractor)


def check_config(out_dir: Path, new: dict[str, Any]) -> None:
    """Write ``config.json``, or refuse a folder whose results used other settings."""
    path = out_dir / CONFIG_NAME
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


def fmt(x: float, digits: int = 5) -> str:
    """A number cell: ``digits`` significant digits, empty for None and NaN."""
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def short_error(exc: BaseException) -> str:
    """An error cell: ``Type: message`` on one line, at most 500 characters."""
    msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return msg[:500]


def log_run(
    out_dir: Path,
    n_rows: int,
    n_failed: int,
    seconds: float,
    extractors: Sequence[str],
    coverages: Sequence[float],
) -> None:
    """Append one invocation (rows computed and failed, wall time) to ``runs.jsonl``."""
    entry = {
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows_computed": n_rows,
        "rows_failed": n_failed,
        "wall_s": round(seconds, 1),
        "extractors": list(extractors),
        "coverages": list(coverages),
    }
    with (out_dir / LOG_NAME).open("a") as f:
        f.write(json.dumps(entry) + "\n")
