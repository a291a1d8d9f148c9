"""The ``convpaint`` command line: extractors, train, segment, demo, evaluate.

Errors end the command with exit status 2 and one line ``convpaint: error: ...`` on
stderr; ``CONVPAINT_DEBUG=1`` shows the traceback instead.  Nothing is written before
the outputs are checked: an output that is, contains or lies inside an input (image,
annotations, model) and two inputs that would write the same output are refused.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
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
    from .io import check_tiff, read_image
    from .ome import is_zarr_path, open_tiff, open_zarr

    if is_zarr_path(path):
        img = open_zarr(path, level)
    elif lazy and Path(path).suffix.lower() in (".tif", ".tiff"):
        if not Path(path).is_file():
            raise FileNotFoundError(f"no such file: {path}")
        check_tiff(path, level)
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


class _Failure(Exception):
    """An error already worded for the user (exit status 2)."""


_KNOWN: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    OSError,
    RuntimeError,
    MemoryError,
)


def _explain(exc: BaseException) -> str:
    """One line naming the problem: the message, prefixed with the exception's type when
    it is not one of the ordinary ones (a ZeroDivisionError says little by itself)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, _KNOWN):
        text = f"{type(exc).__name__}: {text}"
    return text


@contextlib.contextmanager
def _unexpected(what: str):
    """Report an exception other than the ordinary ones (an extractor's ZeroDivisionError,
    KeyError, ...) as ``what: Type: message``."""
    try:
        yield
    except (_Failure, KeyboardInterrupt, *_KNOWN):
        raise
    except Exception as exc:
        if _debug():
            raise
        raise _Failure(f"{what}: {_explain(exc)} (CONVPAINT_DEBUG=1 shows the traceback)") from exc


def _debug() -> bool:
    return os.environ.get("CONVPAINT_DEBUG", "") not in ("", "0")


def _extractor_text(name: str, options: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in options.items()) or "none"
    return f"extractor {name!r}, options: {shown}"


def _build_model(args: argparse.Namespace, options: dict[str, Any]):
    """The model of ``convpaint train``; any error of the extractor or its options is
    reported naming them (never a traceback)."""
    from .model import ConvpaintModel
    from .registry import ExtractorConflictError, ExtractorNotFoundError

    scalings = _ints(args.scalings)
    try:
        return ConvpaintModel(
            extractor=args.extractor,
            scalings=scalings,
            normalize=args.normalize,
            seed=args.seed,
            progress=not args.quiet,
            **options,
        )
    except (ExtractorNotFoundError, ExtractorConflictError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise _Failure(
            f"cannot build the model ({_extractor_text(args.extractor, options)}): {_explain(exc)}"
        ) from exc


def _load(path: str):
    from .loading import load_model
    from .model_file import ModelFileError

    try:
        return load_model(path)
    except (ModelFileError, KeyboardInterrupt):
        raise
    except Exception as exc:  # e.g. an extractor refusing the file's settings
        raise _Failure(f"{path}: cannot load the model ({_explain(exc)})") from exc


def cmd_train(args: argparse.Namespace) -> int:
    from .paths import check_output

    if len(args.images) != len(args.annotations):
        raise ValueError(
            f"{len(args.images)} image(s) but {len(args.annotations)} annotation file(s)"
        )
    check_output(args.output, [*args.images, *args.annotations], what="model output")
    options = _parse_options(args.option)
    model = _build_model(args, options)  # before reading: option errors come first
    read = [_read(p, args.level) for p in args.images]
    images = [r[0] for r in read]
    labels = [_read(p, args.level)[0] for p in args.annotations]
    axes = args.axes or next((r[1] for r in read if r[1]), None)
    with _unexpected(f"training failed ({_extractor_text(args.extractor, options)})"):
        model.train(images, labels, axes=axes)
    _saving(args.output, lambda: model.save(args.output))
    print(
        f"saved {args.output} (extractor {model.extractor.name}, classes {model.classes_.tolist()})"
    )
    return 0


def _saving(path: str | Path, save) -> None:
    """Run ``save``; a write error (disk full, ...) names ``path``."""
    from .io import write_error

    try:
        save()
    except OSError as exc:
        raise write_error(path, exc) from None


def _targets(args: argparse.Namespace, to_zarr: bool) -> list[Path]:
    """The output of each input, checked before anything is written."""
    from .paths import check_distinct, check_output, check_store_target

    out = Path(args.output)
    several = len(args.images) > 1 or (not to_zarr and (out.is_dir() or not out.suffix))
    kind = "proba" if args.proba else "labels"
    ext = ".ome.zarr" if to_zarr else ".tif"
    targets = [out / f"{_stem(p)}_{kind}{ext}" for p in args.images] if several else [out]
    for src in args.images:
        if not Path(src).exists():
            raise FileNotFoundError(f"no such file: {src}")
    check_distinct(zip(args.images, targets, strict=True))
    for dst in targets:
        check_output(dst, [args.model, *args.images])
        if to_zarr:
            check_store_target(dst)
    return targets


def _check_fits(model: Any, image: Any, axes: str | None, proba: bool, dst: Path) -> None:
    """A lazy input written to one file is computed whole: refuse it up front when the
    result would not fit in memory (the ``.ome.zarr`` output streams instead)."""
    import numpy as np

    from .axes import resolve_axes
    from .io import human_bytes
    from .memory import InsufficientMemoryError, available_bytes

    layout = resolve_axes(tuple(image.shape), axes)
    pixels = int(np.prod([n for n, a in zip(image.shape, layout.axes, strict=True) if a != "C"]))
    classes = np.asarray(model.classes_)
    if proba:
        per_pixel = 4 * len(classes)
    elif classes.dtype.kind in "iu":
        per_pixel = np.min_scalar_type(int(classes.max())).itemsize
    else:
        per_pixel = 8
    need = 2 * pixels * per_pixel  # the blocks and the assembled result
    avail = available_bytes()
    if avail is not None and need > avail:
        raise InsufficientMemoryError(
            f"writing {dst} needs about {human_bytes(need)} of memory for the whole result of "
            f"the {' x '.join(map(str, image.shape))} input, more than the "
            f"{human_bytes(avail)} available: write a .ome.zarr output instead "
            "(-o result.ome.zarr streams it block by block)"
        )


def cmd_segment(args: argparse.Namespace) -> int:
    from .ome import is_zarr_path

    out = Path(args.output)
    to_zarr = out.suffix.lower() == ".zarr" or is_zarr_path(out)
    targets = _targets(args, to_zarr)
    model = _load(args.model)
    model.progress = not args.quiet
    scheduler = _scheduler(args.scheduler)
    try:
        for src, dst in zip(args.images, targets, strict=True):
            with _unexpected(f"segmenting {src} -> {dst} failed"):
                _segment_one(args, model, src, dst, to_zarr, scheduler)
            print(f"{src} -> {dst}")
    finally:
        if scheduler is not None:
            scheduler.close()
    return 0


def _segment_one(args, model, src: str, dst: Path, to_zarr: bool, scheduler) -> None:
    from .io import write_error, write_image

    image, axes, scale, units = _read(src, args.level, lazy=to_zarr)
    axes = args.axes or axes
    if to_zarr:  # streamed block by block; a rerun resumes
        from .stream import write_prediction

        what = ("labels", "proba") if args.proba else ("labels",)
        try:
            write_prediction(
                model, image, dst, axes, scheduler=scheduler, what=what, scale=scale, units=units
            )
        except OSError as exc:  # disk full, ...: name the store (a rerun resumes)
            raise write_error(dst, exc, f"{src} -> {dst}") from None
        return
    if hasattr(image, "chunks") and not hasattr(image, "__array_interface__"):  # zarr, dask
        _check_fits(model, image, axes, args.proba, dst)
    fn = model.predict_proba if args.proba else model.segment
    result = fn(image, axes=axes, scheduler=scheduler)
    if hasattr(result, "compute"):  # a lazy input: computed block by block
        result = result.compute(scheduler=scheduler)
    write_image(dst, result)


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
        help=(
            "file (one image), folder (several images: NAME_labels.tif each), or a "
            ".zarr/.ome.zarr store (streamed, resumable). Refused before anything is "
            "written: an output that is or lies inside an input or the model, an existing "
            "folder that is not a Convpaint store, two inputs of the same name (they would "
            "write the same file: segment them into separate folders), and a lazy input "
            "whose result would not fit in memory as one .tif (use .ome.zarr)"
        ),
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
        if _debug():
            raise
        text = str(exc) if isinstance(exc, _Failure) else _explain(exc)
        if not isinstance(exc, (_Failure, *_KNOWN)):
            text += " (CONVPAINT_DEBUG=1 shows the traceback)"
        print(f"convpaint: error: {' '.join(text.split())}", file=sys.stderr)
        return 2
    finally:
        tiff_log.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
