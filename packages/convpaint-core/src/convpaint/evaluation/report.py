"""Summaries of a results CSV: a markdown table and a mIoU-vs-coverage plot."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .results import CONFIG_NAME, CSV_NAME, LOG_NAME, format_coverage, read_rows

SUMMARY_NAME = "summary.md"
FIGURE_NAME = "miou_vs_coverage.png"
PLOT_HINT = 'pip install "convpaint-core[plot]" (matplotlib), then rerun with --report-only'


def can_plot() -> bool:
    """Whether matplotlib (the ``plot`` extra of convpaint-core) is importable."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Group:
    """Scores of one (subset, extractor, coverage) cell."""

    subset: str
    extractor: str
    coverage: float
    miou: list[float]
    accuracy: list[float]
    train_s: list[float]
    segment_s: list[float]
    n_failed: int

    @property
    def n(self) -> int:
        return len(self.miou)

    @staticmethod
    def _mean(v: list[float]) -> float:
        return float(np.mean(v)) if v else float("nan")

    @property
    def miou_mean(self) -> float:
        return self._mean(self.miou)

    @property
    def miou_sd(self) -> float:
        return float(np.std(self.miou, ddof=1)) if len(self.miou) > 1 else float("nan")


def latest_rows(rows: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """One row per (image, coverage, extractor): the last success, else the last failure."""
    best: dict[tuple[str, str, str], dict[str, str]] = {}
    for row in rows:
        key = (row["image"], format_coverage(float(row["coverage"])), row["extractor"])
        old = best.get(key)
        if old is None or not row.get("error") or old.get("error"):
            best[key] = row
    return list(best.values())


def _subset(row: dict[str, str]) -> str:
    return row.get("modality") or "all"


def summarize(rows: Sequence[dict[str, str]]) -> list[Group]:
    """Group rows by subset (modality), extractor and coverage, in order of appearance."""
    groups: dict[tuple[str, str, float], Group] = {}
    for row in latest_rows(rows):
        key = (_subset(row), row["extractor"], float(row["coverage"]))
        g = groups.setdefault(key, Group(*key, [], [], [], [], 0))
        if row.get("error") or not row.get("miou"):
            g.n_failed += 1
            continue
        g.miou.append(float(row["miou"]))
        g.accuracy.append(float(row["accuracy"]))
        g.train_s.append(float(row["train_s"]))
        g.segment_s.append(float(row["segment_s"]))
    return list(groups.values())


def _ordered(values: Sequence) -> list:
    return list(dict.fromkeys(values))


def _cell(g: Group | None) -> str:
    if g is None or g.n == 0:
        return "–" if g is None else f"failed ({g.n_failed})"
    sd = "" if math.isnan(g.miou_sd) else f" ± {g.miou_sd:.3f}"
    fail = f" ({g.n_failed} failed)" if g.n_failed else ""
    return f"{g.miou_mean:.3f}{sd}{fail}"


def summary_markdown(rows: Sequence[dict[str, str]], out_dir: Path | None = None) -> str:
    """Markdown: mean ± sd mIoU per subset/extractor/coverage, runtimes, settings."""
    groups = summarize(rows)
    latest = latest_rows(rows)
    subsets = _ordered(g.subset for g in groups)
    extractors = _ordered(g.extractor for g in groups)
    coverages = sorted({g.coverage for g in groups})
    lookup = {(g.subset, g.extractor, g.coverage): g for g in groups}
    dataset = latest[0]["dataset"] if latest else "?"
    n_failed = sum(1 for r in latest if r.get("error"))
    lines = [f"# Evaluation results: {dataset}", ""]
    lines.append(
        f"{len(latest)} runs ({n_failed} failed) from `{CSV_NAME}`: mean ± sd over images of "
        "the mIoU (mean over classes of the IoU on all pixels of the image) for each "
        "scribble coverage (percent of the image pixels)."
    )
    config = out_dir / CONFIG_NAME if out_dir else None
    if config is not None and config.is_file():
        cfg = json.loads(config.read_text())
        sc = cfg.get("scribbles", {})
        lines.append(
            f"Scribbles: line length {sc.get('line_length')} px, width {sc.get('line_width')} px, "
            f"kinds {', '.join(sc.get('kinds', []))}; masks: {cfg.get('masks')}; "
            f"seed {cfg.get('seed')}."
        )
    lines.append("")
    for subset in subsets:
        n_img = len({r["image"] for r in latest if _subset(r) == subset})
        lines += [f"## {subset} ({n_img} images)", ""]
        lines.append(
            "| extractor | " + " | ".join(f"{format_coverage(c)} %" for c in coverages) + " |"
        )
        lines.append("|---|" + "---|" * len(coverages))
        for ex in extractors:
            cells = [_cell(lookup.get((subset, ex, c))) for c in coverages]
            lines.append(f"| {ex} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Runtime", ""]
    lines.append("Mean seconds per image and run (all subsets and coverages):")
    lines += ["", "| extractor | train s | segment s | runs |", "|---|---|---|---|"]
    for ex in extractors:
        gs = [g for g in groups if g.extractor == ex]
        tr = [t for g in gs for t in g.train_s]
        se = [t for g in gs for t in g.segment_s]
        if tr:
            lines.append(f"| {ex} | {np.mean(tr):.2f} | {np.mean(se):.2f} | {len(tr)} |")
    total = sum(float(r["train_s"] or 0) + float(r["segment_s"] or 0) for r in latest)
    lines += ["", f"Train + segment time summed over runs: {total:.0f} s ({total / 60:.1f} min)."]
    log = out_dir / LOG_NAME if out_dir else None
    if log is not None and log.is_file():
        entries = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        wall = sum(e.get("wall_s", 0) for e in entries)
        lines.append(
            f"Wall time of the evaluation runs (`{LOG_NAME}`, {len(entries)} invocation(s)): "
            f"{wall:.0f} s ({wall / 60:.1f} min)."
        )
    if n_failed:
        lines += ["", "## Failures", ""]
        for r in latest:
            if r.get("error"):
                lines.append(f"- {r['image']} {r['coverage']} % {r['extractor']}: {r['error']}")
    return "\n".join(lines) + "\n"


def plot_miou(rows: Sequence[dict[str, str]], path: str | Path, title: str | None = None) -> Path:
    """mIoU vs coverage (log x), one line per extractor, one panel per subset (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in summarize(rows) if g.n]
    subsets = _ordered(g.subset for g in groups)
    extractors = _ordered(g.extractor for g in groups)
    if not groups:
        raise ValueError("no successful runs to plot")
    fig, axs = plt.subplots(
        1, len(subsets), figsize=(4.6 * len(subsets) + 0.6, 4.0), sharey=True, squeeze=False
    )
    for ax, subset in zip(axs[0], subsets, strict=True):
        for i, ex in enumerate(extractors):
            gs = sorted(
                (g for g in groups if g.subset == subset and g.extractor == ex),
                key=lambda g: g.coverage,
            )
            if not gs:
                continue
            dodge = 1.0 + 0.025 * (i - (len(extractors) - 1) / 2)  # keep error bars apart
            x = [g.coverage * dodge for g in gs]
            y = [g.miou_mean for g in gs]
            sd = [0.0 if math.isnan(g.miou_sd) else g.miou_sd for g in gs]
            ax.errorbar(x, y, yerr=sd, marker="o", ms=4, capsize=3, label=ex, color=f"C{i}")
        n_img = max(g.n for g in groups if g.subset == subset)
        ax.set_xscale("log")
        ax.set_title(f"{subset} (n={n_img})")
        ax.set_xlabel("scribble coverage (% of pixels)")
        ax.grid(True, which="both", alpha=0.3)
        cov = sorted({g.coverage for g in groups})
        ax.set_xticks(cov, [format_coverage(c) for c in cov])
        ax.minorticks_off()
    axs[0][0].set_ylabel("mIoU (mean ± sd over images)")
    axs[0][-1].legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(
    out_dir: str | Path, figure: str | Path | None = None, title: str | None = None
) -> tuple[Path, Path | None]:
    """Write ``summary.md`` and the plot for the results in ``out_dir``; return their paths
    (the plot's is None when there is nothing to plot or matplotlib is not installed)."""
    out_dir = Path(out_dir)
    rows = read_rows(out_dir / CSV_NAME)
    if not rows:
        raise FileNotFoundError(f"no results in {out_dir / CSV_NAME}")
    summary = out_dir / SUMMARY_NAME
    text = summary_markdown(rows, out_dir)
    fig_path = None
    if can_plot() and any(r.get("miou") and not r.get("error") for r in rows):
        fig_path = plot_miou(rows, figure or out_dir / FIGURE_NAME, title)
        rel = Path(fig_path).resolve()
        try:
            rel = rel.relative_to(out_dir.resolve())
        except ValueError:
            import os

            rel = Path(os.path.relpath(rel, out_dir.resolve()))
        text += f"\n![mIoU vs scribble coverage]({rel.as_posix()})\n"
    summary.write_text(text)
    return summary, fig_path
