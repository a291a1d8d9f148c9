"""``convpaint evaluate``: mIoU vs scribble coverage on a dataset with ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..scribbles import KINDS


def _percentages(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of numbers: {text!r}"
        ) from None
    if not values or any(not 0 < v <= 100 for v in values):
        raise argparse.ArgumentTypeError(f"coverages must be percentages in (0, 100]: {text!r}")
    return values


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser(
        "evaluate",
        help="score extractors on a dataset with generated scribbles (mIoU vs coverage)",
        description=(
            "For every image, coverage level and extractor: generate scribbles from the "
            "ground-truth mask (the same for every extractor), train, segment and score. "
            "Rows are appended to OUT/results.csv (a rerun resumes), then OUT/summary.md and "
            "a plot are written. Dataset layout: images/<stem>.{png,tif,npy}, "
            "masks/<stem>.{tif,png,npy}, optional index.json with a modality per image."
        ),
    )
    p.add_argument("dataset", type=Path, help="dataset folder (images/, masks/, index.json)")
    p.add_argument(
        "--extractor",
        "-e",
        action="append",
        metavar="NAME[:K=V,...]",
        help="extractor to evaluate (repeatable), e.g. raw, ilastik, vgg16:weights=random; "
        "upsampler=NAME and upsampler.K=V give it a feature upsampler, e.g. "
        "dinov2:weights=random,upsampler=guided,upsampler.radius=2",
    )
    p.add_argument(
        "--extractor-option",
        action="append",
        default=[],
        metavar="NAME:K=V",
        help="option for every run of extractor NAME, e.g. vgg16:weights=random (repeatable)",
    )
    p.add_argument(
        "--coverage",
        type=_percentages,
        default=[0.1, 0.5, 1.0, 2.5],
        metavar="P,P,...",
        help="scribble coverage levels in percent of the image pixels (default 0.1,0.5,1,2.5)",
    )
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument(
        "--modality",
        action="append",
        metavar="NAME[:N],...",
        help="only these index.json modalities, at most N images each (first by name)",
    )
    p.add_argument("--limit", type=int, help="at most N images in total")
    p.add_argument(
        "--masks",
        choices=("auto", "semantic", "instance"),
        default="auto",
        help="instance masks become foreground/background; auto: instance when index.json "
        "has instance counts (n_nuclei / n_instances)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for scribbles and classifier")
    p.add_argument("--line-length", type=int, default=20, help="scribble line length (px)")
    p.add_argument("--line-width", type=int, default=1, help="scribble width (px)")
    p.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help=f"scribble line kinds, comma-separated subset of {','.join(KINDS)}",
    )
    p.add_argument("--retry-failed", action="store_true", help="recompute failed rows")
    p.add_argument(
        "--report-only", action="store_true", help="only rewrite summary and plot from the CSV"
    )
    p.add_argument("--figure", type=Path, help="plot path (default OUT/miou_vs_coverage.png)")
    p.add_argument("--title", help="plot title")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``convpaint evaluate`` from parsed arguments; return an exit code."""
    from .datasets import open_dataset
    from .report import PLOT_HINT, can_plot, write_report
    from .runner import ScribbleSettings, evaluate, make_extractor_runs

    if not args.report_only:
        if not args.extractor:
            print("convpaint evaluate: give at least one --extractor", file=sys.stderr)
            return 2
        try:
            runs = make_extractor_runs(args.extractor, args.extractor_option)
            dataset = open_dataset(args.dataset, args.modality, args.limit, args.masks)
            kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
            settings = ScribbleSettings(args.line_length, args.line_width, kinds)
        except (ValueError, FileNotFoundError) as exc:
            print(f"convpaint evaluate: {exc}", file=sys.stderr)
            return 2
        print(
            f"{len(dataset)} images x {len(args.coverage)} coverages x {len(runs)} extractors "
            f"({', '.join(r.label for r in runs)}) -> {args.output}",
            file=sys.stderr,
        )
        try:
            evaluate(
                dataset,
                runs,
                args.coverage,
                args.output,
                seed=args.seed,
                scribbles=settings,
                retry_failed=args.retry_failed,
                progress=not args.no_progress,
            )
        except (ValueError, TypeError, KeyError, OSError) as exc:  # bad names/options, settings
            print(f"convpaint evaluate: {exc}", file=sys.stderr)
            return 2
    summary, figure = write_report(args.output, args.figure, args.title)
    print(f"summary: {summary}")
    if figure:
        print(f"plot: {figure}")
    elif not can_plot():
        print(f"plot: not drawn, matplotlib is not installed: {PLOT_HINT}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m convpaint.evaluation``)."""
    parser = argparse.ArgumentParser(prog="convpaint")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["evaluate", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)
