"""The ``convpaint`` command line: extractors, train, segment, demo, evaluate."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["weights=random", "layers=[0,2]"]`` -> keyword options (values parsed as JSON when possible)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"option {pair!r} is not KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _ints(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from None


def cmd_extractors(args: argparse.Namespace) -> int:
    from .registry import get_registry

    specs = get_registry().specs()
    rows = [("NAME", "PACKAGE", "DESCRIPTION")] + [
        (s.name, s.distribution, s.description) for s in specs
    ]
    w0, w1 = (max(len(r[i]) for r in rows) for i in (0, 1))
    for name, dist, desc in rows:
        print(f"{name:<{w0}}  {dist:<{w1}}  {desc}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .io import read_image
    from .model import ConvpaintModel

    if len(args.images) != len(args.annotations):
        raise ValueError(
            f"{len(args.images)} image(s) but {len(args.annotations)} annotation file(s)"
        )
    images = [read_image(p) for p in args.images]
    labels = [read_image(p) for p in args.annotations]
    model = ConvpaintModel(
        extractor=args.extractor,
        scalings=_ints(args.scalings),
        normalize=args.normalize,
        seed=args.seed,
        progress=not args.quiet,
        **_parse_options(args.option),
    )
    model.train(images, labels, axes=args.axes)
    model.save(args.output)
    print(
        f"saved {args.output} (extractor {model.extractor.name}, classes {model.classes_.tolist()})"
    )
    return 0


def cmd_segment(args: argparse.Namespace) -> int:
    from .io import read_image, write_image
    from .model_file import load_model

    model = load_model(args.model)
    model.progress = not args.quiet
    out = Path(args.output)
    several = len(args.images) > 1 or out.is_dir() or not out.suffix
    kind = "proba" if args.proba else "labels"
    targets = [out / f"{Path(p).stem}_{kind}.tif" for p in args.images] if several else [out]
    for src in args.images:  # check inputs before writing anything
        if not Path(src).is_file():
            raise FileNotFoundError(f"no such file: {src}")
    for src, dst in zip(args.images, targets, strict=True):
        image = read_image(src)
        result = (
            model.predict_proba(image, axes=args.axes)
            if args.proba
            else model.segment(image, axes=args.axes)
        )
        write_image(dst, result)
        print(f"{src} -> {dst}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="convpaint", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extractors", help="list installed feature extractors")
    p.set_defaults(func=cmd_extractors)

    p = sub.add_parser("train", help="train a model on scribbles")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--annotations", "-a", nargs="+", required=True, metavar="LABELS")
    p.add_argument("--output", "-o", required=True, metavar="MODEL")
    p.add_argument("--extractor", "-e", default="ilastik")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="extractor option")
    p.add_argument("--scalings", help="pyramid scalings, e.g. 1,2,4")
    p.add_argument("--normalize", default="image", choices=["image", "stack", "none"])
    p.add_argument("--axes", help="e.g. ZYX, TYX, CYX")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("segment", help="segment images with a trained model")
    p.add_argument("model")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument(
        "--output", "-o", required=True, metavar="OUT", help="file (one image) or folder"
    )
    p.add_argument("--proba", action="store_true", help="write class probabilities")
    p.add_argument("--axes")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_segment)

    p = sub.add_parser("demo", help="segment a bundled image from shipped scribbles")
    p.add_argument("--output", "-o", default="convpaint-demo")
    p.add_argument("--extractor", "-e", default="ilastik")
    p.set_defaults(func=cmd_demo)

    try:
        from .evaluation.cli import add_parser as add_evaluate
    except ImportError:
        pass
    else:
        add_evaluate(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .memory import InsufficientMemoryError
    from .model_file import ModelFileError
    from .registry import ExtractorConflictError, ExtractorNotFoundError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (
        ValueError,
        TypeError,
        FileNotFoundError,
        RuntimeError,
        ModelFileError,
        ExtractorNotFoundError,
        ExtractorConflictError,
        InsufficientMemoryError,
        OSError,
    ) as exc:
        print(f"convpaint: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
