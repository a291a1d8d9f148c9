"""The ``convpaint`` command line: extractors, train, segment, info, demo, evaluate, project.

Errors end the command with exit status 2 and one line ``convpaint: error: ...`` on
stderr; ``CONVPAINT_DEBUG=1`` shows the traceback instead.  Nothing is written before
the outputs are checked: an output that is, contains or lies inside an input (image,
annotations, model) and two inputs that would write the same output are refused.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from .cli_common import (
    KNOWN,
    Failure,
    debug,
    explain,
    extractor_options,
    extractor_text,
    parse_ints,
    parse_options,
    read_input,
    saving,
    schema_lines,
    unexpected,
)


def cmd_extractors(args: argparse.Namespace) -> int:
    from .registry import get_registry

    if args.options:  # one extractor's options schema
        print("\n".join(schema_lines(args.options)))
        return 0
    specs = get_registry().specs()
    rows = [("NAME", "PACKAGE", "DESCRIPTION")] + [
        (s.name, s.distribution, s.description) for s in specs
    ]
    w0, w1 = (max(len(r[i]) for r in rows) for i in (0, 1))
    for name, dist, desc in rows:
        print(f"{name:<{w0}}  {dist:<{w1}}  {desc}")
    from .upsampler_registry import get_upsampler_registry

    ups = [(s.name, s.distribution, s.description) for s in get_upsampler_registry().specs()]
    if ups:  # ConvpaintModel(..., upsampler=NAME), convpaint train --upsampler NAME
        print(f"{'UPSAMPLER':<{w0}}  {'PACKAGE':<{w1}}  DESCRIPTION")
        for name, dist, desc in ups:
            print(f"{name:<{w0}}  {dist:<{w1}}  {desc}")
    return 0


def _build_model(args: argparse.Namespace, options: dict[str, Any]):
    """The model of ``convpaint train``; any error of the extractor or its options is
    reported naming them (never a traceback)."""
    from .model import ConvpaintModel
    from .registry import ExtractorConflictError, ExtractorNotFoundError

    scalings = parse_ints(args.scalings)
    up_options = parse_options(args.upsampler_option)
    if up_options and not args.upsampler:
        raise ValueError("--upsampler-option needs --upsampler NAME")
    try:
        return ConvpaintModel(
            extractor=args.extractor,
            scalings=scalings,
            normalize=args.normalize,
            seed=args.seed,
            progress=not args.quiet,
            upsampler=args.upsampler,
            upsampler_options=up_options or None,
            **options,
        )
    except (ExtractorNotFoundError, ExtractorConflictError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise Failure(
            f"cannot build the model ({extractor_text(args.extractor, options)}): {explain(exc)}"
        ) from exc


def cmd_train(args: argparse.Namespace) -> int:
    from .paths import check_output

    if len(args.images) != len(args.annotations):
        raise ValueError(
            f"{len(args.images)} image(s) but {len(args.annotations)} annotation file(s)"
        )
    check_output(args.output, [*args.images, *args.annotations], what="model output")
    options = extractor_options(args.extractor, args.option)  # checked against the schema
    model = _build_model(args, options)  # before reading: option errors come first
    read = [read_input(p, args.level) for p in args.images]
    images = [r[0] for r in read]
    labels = [read_input(p, args.level)[0] for p in args.annotations]
    axes = args.axes or next((r[1] for r in read if r[1]), None)
    with unexpected(f"training failed ({extractor_text(args.extractor, options)})"):
        model.train(images, labels, axes=axes)
    saving(args.output, lambda: model.save(args.output))
    print(
        f"saved {args.output} (extractor {model.extractor.name}, classes {model.classes_.tolist()})"
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    r = run_demo(args.output, args.extractor)
    print(
        f"demo: {r['extractor']} on coins {r['image_shape']} from {r['scribbled_pixels']} scribbled pixels\n"
        f"  train   {r['train_s']:.2f} s\n  segment {r['segment_s']:.2f} s\n"
        f"  coins cover {100 * r['coin_fraction']:.1f} % of the image\n"
        f"  wrote {r['out_dir']}/coins_labels.tif, coins_overlay.png, coins_scribbles_and_result.png"
    )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .model_file import read_model_file

    meta, _ = read_model_file(args.model)  # validated; no extractor needs to be installed
    if args.json:
        print(json.dumps({k: v for k, v in meta.items() if k != "classifier"}, indent=2))
        return 0
    print("\n".join(info_lines(meta)))
    return 0


def info_lines(meta: dict[str, Any]) -> list[str]:
    """What ``convpaint info`` prints: extractor, options, classes, training size, versions."""
    from .class_names import colors_for, names_for

    ex, clf = meta["extractor"], meta["classifier"]
    packages = ex.get("packages", {})
    lines = [f"extractor     {'+'.join(ex['names'])}"]
    for name in ex["names"]:
        opts = ", ".join(f"{k}={json.dumps(v)}" for k, v in ex["options"].get(name, {}).items())
        lines.append(f"  {name}: {opts or 'default options'} ({packages.get(name) or '?'})")
    up = meta.get("upsampler")
    if up:
        opts = ", ".join(f"{k}={json.dumps(v)}" for k, v in up.get("options", {}).items())
        lines.append(
            f"upsampler     {up['name']}: {opts or 'default options'} ({up.get('package') or '?'})"
        )
    scalings = meta.get("scalings")
    lines.append(
        f"settings      scalings {scalings or 'extractor default'}, normalize "
        f"{meta.get('normalize', 'image')}, volumetric {meta.get('volumetric', False)}, "
        f"downsample {meta.get('downsample', 1)}, smooth {meta.get('smooth', 0)}"
    )
    lines.append(
        f"input         {meta.get('n_channels') or '?'} channel(s), axes {meta.get('axes') or '?'}"
        f", {meta['n_features']} features per pixel"
    )
    params = clf.get("params", {})
    lines.append(
        f"classifier    {clf['kind']}: {clf['n_trees']} trees, max_depth "
        f"{params.get('max_depth')}, seed {params.get('random_state')}"
    )
    classes = meta["classes"]
    names = names_for(classes, {int(k): v for k, v in meta.get("class_names", {}).items()})
    colors = colors_for(classes, {int(k): v for k, v in meta.get("class_colors", {}).items()})
    counts = meta.get("training", {}).get("class_counts", {})
    lines.append("classes       value  name                  colour   training pixels")
    for v in classes:
        lines.append(f"              {v:<6} {names[v]:<21} {colors[v]}  {counts.get(str(v), '?')}")
    training = meta.get("training", {})
    if training:
        lines.append(
            f"training      {training.get('n_samples', '?')} pixels from "
            f"{training.get('n_images', '?')} image(s)"
        )
    versions = meta.get("versions", {})
    shown = ", ".join(f"{k} {v}" for k, v in versions.items())
    lines.append(f"saved with    {shown or 'convpaint ' + str(meta.get('convpaint_version', '?'))}")
    return lines


def build_parser() -> argparse.ArgumentParser:
    from .cli_segment import add_parser as add_segment
    from .project_cli import add_parser as add_project

    parser = argparse.ArgumentParser(prog="convpaint", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extractors", help="list installed feature extractors")
    p.add_argument(
        "--options",
        metavar="NAME",
        help="show the options of extractor or upsampler NAME (type, default, allowed)",
    )
    p.set_defaults(func=cmd_extractors)

    p = sub.add_parser("train", help="train a model on scribbles")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--annotations", "-a", nargs="+", required=True, metavar="LABELS")
    p.add_argument("--output", "-o", required=True, metavar="MODEL")
    p.add_argument("--extractor", "-e", default="ilastik")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="extractor option")
    p.add_argument("--upsampler", metavar="NAME", help="patch features to pixels, e.g. guided")
    p.add_argument(
        "--upsampler-option", action="append", metavar="KEY=VALUE", help="upsampler option"
    )
    p.add_argument("--scalings", help="pyramid scalings, e.g. 1,2,4")
    p.add_argument("--normalize", default="image", choices=["image", "stack", "none"])
    p.add_argument("--axes", help="e.g. ZYX, TYX, CYX (default: from OME-Zarr/TIFF metadata)")
    p.add_argument("--level", type=int, default=0, help="OME-Zarr/TIFF pyramid level")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_train)

    add_segment(sub)

    p = sub.add_parser("info", help="describe a model file (extractor, classes, training)")
    p.add_argument("model")
    p.add_argument("--json", action="store_true", help="the model file's metadata as JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("demo", help="segment a bundled image from shipped scribbles")
    p.add_argument("--output", "-o", default="convpaint-demo")
    p.add_argument("--extractor", "-e", default="ilastik")
    p.set_defaults(func=cmd_demo)

    from .cli_warm_up import add_parser as add_warm_up

    add_warm_up(sub)
    add_project(sub)
    try:
        from .evaluation.cli import add_parser as add_evaluate
    except ImportError:
        pass
    else:
        add_evaluate(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors: exit status 2 and one line on stderr (the traceback
    with ``CONVPAINT_DEBUG=1``)."""
    args = build_parser().parse_args(argv)
    tiff_log = logging.getLogger("tifffile")  # its warnings: our errors say what is wrong
    level = tiff_log.level
    tiff_log.setLevel(logging.CRITICAL)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug():
            raise
        text = str(exc) if isinstance(exc, Failure) else explain(exc)
        if not isinstance(exc, (Failure, *KNOWN)):
            text += " (CONVPAINT_DEBUG=1 shows the traceback)"
        print(f"convpaint: error: {' '.join(text.split())}", file=sys.stderr)
        return 2
    finally:
        tiff_log.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
