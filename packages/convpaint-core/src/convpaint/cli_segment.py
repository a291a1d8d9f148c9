"""``convpaint segment``: images -> label, probability or instance files, folders or zarr
stores; a ``value,name,color`` class table beside label files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .cli_common import load_model_file, make_scheduler, read_input, unexpected


def _targets(args: argparse.Namespace, to_zarr: bool) -> list[Path]:
    """The output of each input, checked before anything is written."""
    from .paths import check_distinct, check_output, check_store_target, image_stem

    out = Path(args.output)
    several = len(args.images) > 1 or (not to_zarr and (out.is_dir() or not out.suffix))
    kind = _kind(args)
    ext = ".ome.zarr" if to_zarr else ".tif"
    targets = [out / f"{image_stem(p)}_{kind}{ext}" for p in args.images] if several else [out]
    for src in args.images:
        if not Path(src).exists():
            raise FileNotFoundError(f"no such file: {src}")
    check_distinct(zip(args.images, targets, strict=True))
    for dst in targets:
        check_output(dst, [args.model, *args.images])
        if to_zarr:
            check_store_target(dst)
    return targets


def _kind(args: argparse.Namespace) -> str:
    return "instances" if args.instances else "proba" if args.proba else "labels"


def _check_flags(args: argparse.Namespace, to_zarr: bool) -> None:
    if args.instances and args.proba:
        raise ValueError("--instances and --proba cannot be combined: run segment twice")
    if args.instances and to_zarr:
        raise ValueError(
            "--instances writes .tif/.png/.npy files; for a zarr store, segment into it and "
            "run convpaint.to_instances on its labels"
        )
    if args.min_size is not None and not args.instances:
        raise ValueError("--min-size needs --instances")
    if args.min_size is not None and args.min_size < 0:
        raise ValueError(f"--min-size must be >= 0, got {args.min_size}")


def _class_table(targets: list[Path], several: bool) -> Path:
    """Where the class table goes: ``classes.csv`` in an output folder, else beside the
    one output file (``labels.classes.csv`` for ``labels.tif``)."""
    if several:
        return targets[0].parent / "classes.csv"
    dst = targets[0]
    return dst.with_name(dst.name.split(".")[0] + ".classes.csv")


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
    _check_flags(args, to_zarr)
    targets = _targets(args, to_zarr)
    model = load_model_file(args.model)
    model.progress = not args.quiet
    table = None
    if _kind(args) == "labels" and not to_zarr:  # zarr stores carry names in their metadata
        from .paths import check_output

        table = _class_table(targets, len(targets) > 1 or targets[0].parent == out)
        check_output(table, [args.model, *args.images], what="class table")
    scheduler = make_scheduler(args.scheduler)
    try:
        for src, dst in zip(args.images, targets, strict=True):
            with unexpected(f"segmenting {src} -> {dst} failed"):
                _segment_one(args, model, src, dst, to_zarr, scheduler)
            print(f"{src} -> {dst}")
    finally:
        if scheduler is not None:
            scheduler.close()
    if table is not None:  # beside the labels it names, once they are written
        from .class_names import write_csv
        from .io import write_error

        try:
            write_csv(table, model.class_names, model.class_colors)
        except OSError as exc:
            raise write_error(table, exc) from None
    return 0


def _segment_one(args, model, src: str, dst: Path, to_zarr: bool, scheduler) -> None:
    from .io import write_error, write_image

    image, axes, scale, units = read_input(src, args.level, lazy=to_zarr)
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
    scaled = {"smooth": args.smooth, "downsample": args.downsample}
    result = fn(image, axes=axes, scheduler=scheduler, **scaled)
    if hasattr(result, "compute"):  # a lazy input: computed block by block
        result = result.compute(scheduler=scheduler)
    if args.instances:
        from .instances import to_instances

        spatial = model_axes(image, axes, model)
        sizes = {} if args.min_size is None else {"min_size": args.min_size}
        result = to_instances(result, axes=spatial, class_names=model.class_names, **sizes)
    write_image(dst, result)


def model_axes(image: Any, axes: str | None, model: Any) -> str:
    """The spatial axes of ``image``'s labels (its axes without C)."""
    from .inputs import prepare_image

    _, layout = prepare_image(image, axes, None, model.axes_)
    return layout.spatial_axes


def add_parser(sub: Any) -> None:
    """Add ``segment`` to the subcommands."""
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
    p.add_argument(
        "--instances",
        action="store_true",
        help="write instance ids (int32, 0 = background): touching objects split, small "
        "fragments merged (convpaint.to_instances)",
    )
    p.add_argument(
        "--min-size", type=int, metavar="N", help="with --instances: smallest object in pixels"
    )
    p.add_argument(
        "--smooth", type=int, metavar="R", help="smoothing radius (default: the model's)"
    )
    p.add_argument(
        "--downsample",
        type=int,
        metavar="K",
        help="featurise and classify at 1/K resolution (default: the model's)",
    )
    p.add_argument("--axes", help="e.g. TZYX (default: from OME-Zarr/TIFF metadata)")
    p.add_argument("--level", type=int, default=0, help="OME-Zarr/TIFF pyramid level to read")
    p.add_argument(
        "--scheduler", metavar="ADDRESS", help="dask.distributed scheduler, e.g. tcp://host:8786"
    )
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_segment)
