"""Quantitative evaluation: generated scribbles -> train -> segment -> mIoU vs coverage.

Reproduces the paper's pipeline (fig. S8): ``convpaint evaluate DATASET --extractor
NAME ... --coverage 0.1,0.5,1 -o DIR``.  See ``docs/evaluation.md``.
"""

from .datasets import Dataset, Sample, open_dataset
from .extractor_runs import ExtractorRun, extractor_label, make_extractor_runs
from .metrics import accuracy, iou_per_class, mean_iou
from .report import plot_miou, summarize, summary_markdown, write_report
from .results import read_rows
from .runner import evaluate
from .scribbling import ScribbleSettings

__all__ = [
    "Dataset",
    "ExtractorRun",
    "Sample",
    "ScribbleSettings",
    "accuracy",
    "evaluate",
    "extractor_label",
    "iou_per_class",
    "make_extractor_runs",
    "mean_iou",
    "open_dataset",
    "plot_miou",
    "read_rows",
    "summarize",
    "summary_markdown",
    "write_report",
]
