"""``convpaint project``: init, status, train and segment a project folder
(:mod:`convpaint.project`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

#: errors worded for the user: one line, exit status 2
KNOWN = (ValueError, TypeError, OSError, RuntimeError, MemoryError, ImportError)


def _pairs(pairs: list[str] | None, what: str) -> dict[str, Any]:
    """``["k=v", ...]`` -> dict, values parsed as JSON when they are JSON."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {pair!r} is not KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``project`` command (init, status, train, segment) to ``subparsers``."""
    p = subparsers.add_parser(
        "project",
        help="a folder of images annotated, trained and segmented together",
        description=(
            "A project folder: project.toml (settings), images/, annotations/<stem>.tif, "
            "model.npz, segmentations/<stem>.tif (instances/, probabilities/ when asked). "
            "See docs/projects.md."
        ),
    )
    sub = p.add_subparsers(dest="project_command", required=True)

    q = sub.add_parser("init", help="create a project folder")
    q.add_argument("dir", type=Path, metavar="DIR")
    q.add_argument("--images", metavar="GLOB", help="images to list, e.g. 'data/*.tif'")
    q.add_argument("--extractor", "-e", default="ilastik")
    q.add_argument("--option", action="append", metavar="KEY=VALUE", help="extractor option")
    q.add_argument("--axes", help="axes of the images, e.g. YX, YXC, ZYX")
    q.add_argument(
        "--model", action="append", metavar="KEY=VALUE", help="model setting, e.g. scalings=[1,2]"
    )
    q.add_argument(
        "--class", dest="classes", action="append", metavar="VALUE=NAME", help="e.g. 1=background"
    )
    q.set_defaults(project_func=cmd_init)

    q = sub.add_parser("status", help="list images with their annotation/segmentation state")
    q.add_argument("dir", type=Path, metavar="DIR")
    q.set_defaults(project_func=cmd_status)

    q = sub.add_parser("train", help="train on every annotated image -> DIR/model.npz")
    q.add_argument("dir", type=Path, metavar="DIR")
    q.add_argument("--quiet", "-q", action="store_true")
    q.set_defaults(project_func=cmd_train)

    q = sub.add_parser(
        "segment", help="segment images -> DIR/segmentations/ (resumes an interrupted run)"
    )
    q.add_argument("dir", type=Path, metavar="DIR")
    q.add_argument("--names", nargs="+", metavar="NAME", help="only these images (stems)")
    q.add_argument("--instances", action="store_true", help="also write instances/<stem>.tif")
    q.add_argument("--proba", action="store_true", help="also write probabilities/<stem>.tif")
    q.add_argument("--quiet", "-q", action="store_true")
    q.set_defaults(project_func=cmd_segment)
    p.set_defaults(func=_run)


def cmd_init(args: argparse.Namespace) -> int:
    from .project import Project

    classes = _pairs(args.classes, "--class")
    project = Project.init(
        args.dir,
        images=args.images,
        extractor=args.extractor,
        options=_pairs(args.option, "--option"),
        axes=args.axes,
        class_names={k: str(v) for k, v in classes.items()},
        model=_pairs(args.model, "--model"),
    )
    print(f"created {project.path} ({len(project.names)} images, extractor {args.extractor})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .project import Project

    project = Project(args.dir)
    rows = [("IMAGE", "SHAPE", "ANNOTATED", "SEGMENTED")]
    for e in project.images:
        seg = ("stale" if e.stale else "yes") if e.segmented else "no"
        rows.append((e.name, "x".join(map(str, e.shape)), "yes" if e.annotated else "no", seg))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(f"{c:<{w}}" for c, w in zip(r, widths, strict=False)) + "  " + r[3])
    s = project.status()
    print(
        f"{s['images']} images, {s['annotated']} annotated, {s['segmented']} segmented "
        f"({s['stale']} stale); model: {s['model']}; extractor {s['extractor']}"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .progress import progress_bar
    from .project import Project

    project = Project(args.dir)
    n = sum(e.annotated for e in project.images)
    with progress_bar(n + 1, "training", False if args.quiet else None) as bar:
        bar.unit = "image"

        def advance(done: int, total: int) -> None:
            bar.n = done
            bar.refresh()

        model = project.train(callback=advance)
    print(f"saved {project.model_path} ({n} annotated images, classes {model.classes_.tolist()})")
    return 0


def cmd_segment(args: argparse.Namespace) -> int:
    from .project import Project

    project = Project(args.dir)
    model = project.model()
    show = False if args.quiet else None  # bars on a terminal only
    model.progress = show
    done = project.segment(args.names, instances=args.instances, proba=args.proba, progress=show)
    total = len(args.names) if args.names else len(project.names)
    print(
        f"segmented {len(done)} of {total} images ({total - len(done)} already up to date) "
        f"-> {project.path / 'segmentations'}"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    """Run a ``project`` subcommand: an error is one line on stderr and exit status 2."""
    import logging
    import os

    tiff_log = logging.getLogger("tifffile")
    level = tiff_log.level
    tiff_log.setLevel(logging.CRITICAL)
    try:
        return args.project_func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("CONVPAINT_DEBUG", "") not in ("", "0"):
            raise
        text = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, KNOWN):
            text = f"{type(exc).__name__}: {text} (CONVPAINT_DEBUG=1 shows the traceback)"
        print(f"convpaint: error: {text}", file=sys.stderr)
        return 2
    finally:
        tiff_log.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m convpaint.project_cli segment DIR``."""
    parser = argparse.ArgumentParser(prog="convpaint")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["project", *(argv if argv is not None else sys.argv[1:])])
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
