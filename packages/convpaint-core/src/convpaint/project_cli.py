"""``convpaint project``: init, status, train and segment a project folder
(:mod:`convpaint.project`).  Errors are worded by :func:`convpaint.cli.main`, as for every
subcommand: one line ``convpaint: error: ...``, exit status 2 (``CONVPAINT_DEBUG=1``: the
traceback)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .cli_common import extractor_options, parse_options

HELP = "a folder of images annotated, trained and segmented together"
DESCRIPTION = (
    "A project folder: project.toml (settings), images/, annotations/<stem>.tif, model.npz, "
    "segmentations/<stem>.tif (instances/, probabilities/ when asked). See docs/projects.md."
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``project`` command (init, status, train, segment) to ``subparsers``."""
    p = subparsers.add_parser("project", help=HELP, description=DESCRIPTION)
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
    q.add_argument("--upsampler", metavar="NAME", help="patch features to pixels, e.g. guided")
    q.add_argument(
        "--upsampler-option", action="append", metavar="KEY=VALUE", help="upsampler option"
    )
    q.add_argument(
        "--class", dest="classes", action="append", metavar="VALUE=NAME", help="e.g. 1=background"
    )
    q.set_defaults(func=cmd_init)

    q = sub.add_parser("status", help="list images with their annotation/segmentation state")
    q.add_argument("dir", type=Path, metavar="DIR")
    q.set_defaults(func=cmd_status)

    q = sub.add_parser("train", help="train on every annotated image -> DIR/model.npz")
    q.add_argument("dir", type=Path, metavar="DIR")
    q.add_argument("--quiet", "-q", action="store_true")
    q.set_defaults(func=cmd_train)

    q = sub.add_parser(
        "segment", help="segment images -> DIR/segmentations/ (resumes an interrupted run)"
    )
    q.add_argument("dir", type=Path, metavar="DIR")
    q.add_argument("--names", nargs="+", metavar="NAME", help="only these images (stems)")
    q.add_argument("--instances", action="store_true", help="also write instances/<stem>.tif")
    q.add_argument("--proba", action="store_true", help="also write probabilities/<stem>.tif")
    q.add_argument("--quiet", "-q", action="store_true")
    q.set_defaults(func=cmd_segment)


def cmd_init(args: argparse.Namespace) -> int:
    from .project import Project

    classes = parse_options(args.classes)
    up_options = parse_options(args.upsampler_option)
    if up_options and not args.upsampler:
        raise ValueError("--upsampler-option needs --upsampler NAME")
    project = Project.init(
        args.dir,
        images=args.images,
        extractor=args.extractor,
        options=extractor_options(args.extractor, args.option),
        axes=args.axes,
        class_names={k: str(v) for k, v in classes.items()},
        model=parse_options(args.model),
        upsampler=args.upsampler,
        upsampler_options=up_options or None,
    )
    up = f", upsampler {args.upsampler}" if args.upsampler else ""
    print(f"created {project.path} ({len(project.names)} images, extractor {args.extractor}{up})")
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
