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


def _read(path: str, level: int = 0, lazy: bool = False):
    """(array, axes or None, scale, units): zarr/OME-Zarr always lazily, TIFF lazily when
    ``lazy`` (tifffile's zarr view), anything else in memory."""
    from .io import read_image
    from .ome import is_zarr_path, open_tiff, open_zarr

    if is_zarr_path(path):
        img = open_zarr(path, level)
    elif lazy and Path(path).suffix.lower() in (".tif", ".tiff"):
        if not Path(path).is_file():
            raise FileNotFoundError(f"no such file: {path}")
        img = open_tiff(path, level)
    else:
        return read_image(path), None, {}, {}
    return img.array, img.axes, img.scale, img.units


def _scheduler(address: str | None):
    if not address:
        return None
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            '--scheduler needs dask.distributed: pip install "convpaint-core[distributed]"'
        ) from None
    return Client(address)


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
    from .model import ConvpaintModel

    if len(args.images) != len(args.annotations):
        raise ValueError(
            f"{len(args.images)} image(s) but {len(args.annotations)} annotation file(s)"
        )
    read = [_read(p, args.level) for p in args.images]
    images = [r[0] for r in read]
    labels = [_read(p, args.level)[0] for p in args.annotations]
    axes = args.axes or next((r[1] for r in read if r[1]), None)
    model = ConvpaintModel(
        extractor=args.extractor,
        scalings=_ints(args.scalings),
        normalize=args.normalize,
        seed=args.seed,
        progress=not args.quiet,
        **_parse_options(args.option),
    )
    model.train(images, labels, axes=axes)
    model.save(args.output)
    print(
        f"saved {args.output} (extractor {model.extractor.name}, classes {model.classes_.tolist()})"
    )
    return 0


def cmd_segment(args: argparse.Namespace) -> int:
    from .io import write_image
    from .model_file import load_model
    from .ome import is_zarr_path

    model = load_model(args.model)
    model.progress = not args.quiet
    out = Path(args.output)
    to_zarr = out.suffix.lower() == ".zarr" or is_zarr_path(out)
    several = len(args.images) > 1 or (not to_zarr and (out.is_dir() or not out.suffix))
    kind = "proba" if args.proba else "labels"
    ext = ".ome.zarr" if to_zarr else ".tif"
    targets = [out / f"{_stem(p)}_{kind}{ext}" for p in args.images] if several else [out]
    for src in args.images:  # check inputs before writing anything
        if not Path(src).exists():
            raise FileNotFoundError(f"no such file: {src}")
    scheduler = _scheduler(args.scheduler)
    try:
        for src, dst in zip(args.images, targets, strict=True):
            image, axes, scale, units = _read(src, args.level, lazy=to_zarr)
            axes = args.axes or axes
            if to_zarr:  # streamed block by block; a rerun resumes
                from .stream import write_prediction

                what = ("labels", "proba") if args.proba else ("labels",)
                write_prediction(
                    model,
                    image,
                    dst,
                    axes,
                    scheduler=scheduler,
                    what=what,
                    scale=scale,
                    units=units,
                )
            else:
                fn = model.predict_proba if args.proba else model.segment
                result = fn(image, axes=axes, scheduler=scheduler)
                if hasattr(result, "compute"):  # a lazy input: computed block by block
                    result = result.compute(scheduler=scheduler)
                write_image(dst, result)
            print(f"{src} -> {dst}")
    finally:
        if scheduler is not None:
            scheduler.close()
    return 0


def _stem(path: str) -> str:
    name = Path(path).name
    for suffix in (".ome.zarr", ".zarr", ".ome.tif", ".ome.tiff"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


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
    p.add_argument("--axes", help="e.g. ZYX, TYX, CYX (default: from OME-Zarr/TIFF metadata)")
    p.add_argument("--level", type=int, default=0, help="OME-Zarr/TIFF pyramid level")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("segment", help="segment images with a trained model")
    p.add_argument("model")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument(
        "--output",
        "-o",
        required=True,
        metavar="OUT",
        help="file (one image), folder, or a .zarr/.ome.zarr store (streamed, resumable)",
    )
    p.add_argument(
        "--proba",
        action="store_true",
        help="write class probabilities (with a zarr output: labels and probabilities)",
    )
    p.add_argument("--axes", help="e.g. TZYX (default: from OME-Zarr/TIFF metadata)")
    p.add_argument("--level", type=int, default=0, help="OME-Zarr/TIFF pyramid level to read")
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="dask.distributed scheduler, e.g. tcp://host:8786"
    )
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
