"""The files of a project folder (:mod:`convpaint.project`): settings (TOML) and the
model they build, state (JSON), images read lazily, annotations validated, signatures.
Every write is atomic (temporary file + ``os.replace``, :func:`convpaint.io.atomic_write`).
"""

from __future__ import annotations

import glob as globbing
import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .io import READABLE, atomic_write

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SETTINGS = "project.toml"
TRAINING = ".training.json"  # what the current model.npz was trained on
STATE = ".state.json"  # in segmentations/: what each output was made from
FORMAT = 1
#: keywords of ConvpaintModel that [model] in project.toml may set
MODEL_KEYS = (
    "scalings",
    "normalize",
    "seed",
    "n_estimators",
    "max_depth",
    "tile_size",
    "volumetric",
    "coarse_to_fine",
    "projections",
    "z_scale",
    "smooth",
    "downsample",
    "cache_bytes",
    "workers",
    "upsampler",
    "upsampler_options",
)
INSTANCE_KEYS = ("classes", "min_size", "split_touching")
#: images up to this size (all together) are read into memory for training, so the
#: feature cache serves retraining; larger ones are read lazily, tile by tile
EAGER_BYTES = 256 * 2**20
#: feature-cache budget of a project's model (training features of all annotated images)
CACHE_BYTES = 512 * 2**20
HEADER = "# Convpaint project settings (docs/projects.md describes every key)\n"
OUTPUT_DIRS = {"labels": "segmentations", "instances": "instances", "proba": "probabilities"}
#: a temporary file of :func:`convpaint.io.atomic_write` (``mkstemp``: 8 random characters)
TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}(\.tiff?|\.json)?$")


# -- settings and state ------------------------------------------------------------------
def read_toml(path: Path) -> dict[str, Any]:
    """The settings in ``path``; a file that is not valid TOML raises ``ValueError``."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not a valid project.toml ({exc})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a valid project.toml (not UTF-8 text)") from None


def write_toml(path: Path, data: dict[str, Any], header: str = "") -> None:
    """Write ``data`` (``None`` values left out) as TOML, atomically."""
    import tomli_w

    text = header + tomli_w.dumps(_drop_none(data))
    with atomic_write(path, ".toml") as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value


def read_json(path: Path) -> dict[str, Any]:
    """A state file; missing or unreadable state counts as none (outputs are redone)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    with atomic_write(path, ".json") as tmp:
        Path(tmp).write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def remove_temporaries(folder: Path) -> list[Path]:
    """Remove what a killed atomic write left in one of the project's own output folders."""
    removed = []
    if folder.is_dir():
        for p in folder.iterdir():
            if p.is_file() and TEMP.match(p.name) and p.name != STATE:
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


# -- images ------------------------------------------------------------------------------
def is_image(path: Path) -> bool:
    from .ome import is_zarr_path

    if path.name.startswith("."):
        return False
    if path.is_dir():
        return is_zarr_path(path)
    return path.suffix.lower() in READABLE


def find_images(folder: Path) -> list[Path]:
    """Readable images in ``folder`` (files and zarr stores), sorted by name."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if is_image(p)), key=lambda p: p.name)


def _tiff_axes(letters: str) -> str | None:
    from .ome import TIFF_AXES

    axes = "".join(TIFF_AXES.get(a, "?") for a in letters)
    return None if "?" in axes else axes


def image_header(path: Path) -> tuple[tuple[int, ...], np.dtype, str | None]:
    """(shape, dtype, axes the file declares or None), reading no pixels where the format
    allows (PNG/JPEG: their header)."""
    from .ome import is_zarr_path

    if not path.exists():
        raise FileNotFoundError(f"no such image: {path}")
    suffix = path.suffix.lower()
    try:
        if is_zarr_path(path):
            from .ome import open_zarr

            img = open_zarr(path)
            return tuple(img.array.shape), np.dtype(img.array.dtype), img.axes
        if suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                return tuple(series.shape), np.dtype(series.dtype), _tiff_axes(series.axes)
        if suffix == ".npy":
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            return tuple(arr.shape), arr.dtype, None
        import imageio.v3 as iio

        props = iio.improps(path)
        return tuple(props.shape), np.dtype(props.dtype), None
    except (ValueError, FileNotFoundError, ImportError):
        raise
    except Exception as exc:
        raise ValueError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from None


def open_image(path: Path, lazy: bool = True) -> tuple[Any, str | None]:
    """(array, axes the file declares or None): TIFF as tifffile's zarr view and zarr
    stores lazily (only the tiles asked for are read), ``.npy`` memory-mapped, PNG/JPEG
    whole; ``lazy=False`` reads every format into memory."""
    from .io import check_tiff, read_image
    from .ome import is_zarr_path, open_tiff, open_zarr

    if not path.exists():
        raise FileNotFoundError(f"no such image: {path}")
    suffix = path.suffix.lower()
    if is_zarr_path(path):
        img = open_zarr(path)
        return (img.array if lazy else np.asarray(img.array)), img.axes
    if suffix in (".tif", ".tiff"):
        _, _, axes = image_header(path)
        if lazy:
            check_tiff(path)
            try:
                return open_tiff(path).array, axes
            except ImportError:  # no zarr: read whole
                pass
        return read_image(path), axes
    if suffix == ".npy" and lazy:
        read_image(path)  # the same checks, then a memory map
        return np.load(path, mmap_mode="r", allow_pickle=False), None
    return read_image(path), None


def spatial_shape(shape: tuple[int, ...], axes: str | None) -> tuple[tuple[int, ...], str]:
    """(spatial shape, spatial axes) of an image of ``shape`` (axes guessed when None)."""
    from .axes import resolve_axes

    layout = resolve_axes(shape, axes)
    spatial = tuple(n for a, n in zip(layout.axes, shape, strict=True) if a != "C")
    return spatial, layout.spatial_axes


def signature(path: Path) -> str:
    """Size and modification time of a file, or of every file of a zarr store."""
    if not path.exists():
        return ""
    if path.is_file():
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


# -- annotations and outputs -------------------------------------------------------------
def check_annotations(array: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``array`` as a NumPy integer label image of ``shape`` (0 = unlabelled)."""
    if not hasattr(array, "dtype") or not hasattr(array, "shape"):
        raise TypeError(f"{what}: annotations must be an integer array, got {type(array).__name__}")
    arr = np.asarray(array)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    check_kind_shape(arr.dtype, arr.shape, shape, what)
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise ValueError(f"{what}: annotations must be >= 0 (0 = unlabelled)")
    return arr


def check_kind_shape(
    dtype: Any, shape: tuple[int, ...], expected: tuple[int, ...], what: str
) -> None:
    """Refuse annotations that are not integers or do not have the ``expected`` shape."""
    if np.dtype(dtype).kind not in "iu":
        raise ValueError(
            f"{what}: annotations must be an integer image (0 = unlabelled), got dtype {dtype}"
        )
    if tuple(shape) != tuple(expected):
        raise ValueError(
            f"{what}: annotations shape {tuple(shape)} does not match the image's spatial shape "
            f"{tuple(expected)}"
        )


def read_annotation_file(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """An annotation TIFF, validated against the image's spatial ``shape``."""
    from .io import read_image

    return check_annotations(read_image(path), shape, str(path))


def write_tiff(path: Path, data: np.ndarray, compress: bool = True) -> None:
    """Write ``data`` as a TIFF atomically (zlib-compressed labels: scribbles are mostly 0);
    grey planes always (a (3, Y, X) stack is three planes, not an RGB image)."""
    import tifffile

    with atomic_write(path, ".tif") as tmp:
        tifffile.imwrite(
            tmp, data, photometric="minisblack", compression="zlib" if compress else None
        )


def training_annotations(path: Path, shape: tuple[int, ...], lazy: bool) -> Any:
    """Annotations for training: a lazy TIFF view (dtype and shape checked from the
    header) for lazily read images, else read and checked whole."""
    if lazy:
        try:
            from .ome import open_tiff

            view = open_tiff(path).array
        except ImportError:  # no zarr
            return read_annotation_file(path, shape)
        check_kind_shape(view.dtype, tuple(view.shape), shape, str(path))
        return view
    return read_annotation_file(path, shape)


# -- settings ---------------------------------------------------------------------------
def build_model(settings: Mapping[str, Any]) -> Any:
    """An untrained ConvpaintModel from a project's settings."""
    from .model import ConvpaintModel

    kwargs = dict(settings.get("model", {}))
    cache = kwargs.pop("cache_bytes", CACHE_BYTES)
    names = {int(k): v for k, v in settings.get("classes", {}).items()}
    try:
        model = ConvpaintModel(
            settings["extractor"], cache_bytes=cache, **kwargs, **settings.get("options", {})
        )
    except (ImportError, KeyboardInterrupt):
        raise
    except Exception as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(
            f"cannot build the model of extractor {settings['extractor']!r}: {text}"
        ) from None
    set_class_names(model, names)
    return model


def check_settings(settings: dict[str, Any], where: Path) -> dict[str, Any]:
    """Settings of project.toml checked for their types (ValueError naming the key)."""
    out = dict(settings)
    out.setdefault("format", FORMAT)
    if out["format"] != FORMAT:
        raise ValueError(f"{where}: format {out['format']!r} is not supported (this is {FORMAT})")
    if not isinstance(out.get("extractor"), str) or not out["extractor"]:
        raise ValueError(f"{where}: 'extractor' must be an extractor name, e.g. \"ilastik\"")
    if out.get("axes") is not None and not isinstance(out["axes"], str):
        raise ValueError(f'{where}: \'axes\' must be a string such as "YX" or "ZYX"')
    for table in ("options", "model", "classes", "images", "instances"):
        if not isinstance(out.setdefault(table, {}), dict):
            raise ValueError(f"{where}: [{table}] must be a table")
    bad = sorted(set(out["model"]) - set(MODEL_KEYS))
    if bad:
        raise ValueError(
            f"{where}: unknown [model] setting(s) {bad} (known: {', '.join(MODEL_KEYS)})"
        )
    bad = sorted(set(out["instances"]) - set(INSTANCE_KEYS))
    if bad:
        raise ValueError(
            f"{where}: unknown [instances] setting(s) {bad} (known: {', '.join(INSTANCE_KEYS)})"
        )
    from .upsampler_settings import check_upsampler_settings

    check_upsampler_settings(out["model"], out["extractor"], where)
    from .class_names import check_class_names

    try:
        names = check_class_names({_class_key(k, where): v for k, v in out["classes"].items()})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: [classes]: {exc}") from None
    out["classes"] = {str(k): v for k, v in names.items()}
    paths = out["images"].get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ValueError(f"{where}: [images] paths must be a list of file paths")
    return out


def _class_key(key: Any, where: Path) -> int:
    try:
        return int(key)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: [classes] keys are class values (1, 2, ...), got {key!r}"
        ) from None


def resolve_images(images: str | Sequence[str | os.PathLike], root: Path) -> list[Path]:
    if isinstance(images, (str, os.PathLike)) and any(c in str(images) for c in "*?["):
        matches = [Path(p) for p in sorted(globbing.glob(str(images), recursive=True))]
        paths = [p for p in matches if is_image(p)]
        if not paths:
            raise ValueError(f"--images {images!r} matches no readable image")
    else:
        paths = (
            [Path(images)] if isinstance(images, (str, os.PathLike)) else [Path(p) for p in images]
        )
        for p in paths:
            if not p.exists():
                raise FileNotFoundError(f"no such image: {p}")
            if not is_image(p):
                raise ValueError(f"{p}: not a readable image (tif, png, jpg, npy or zarr)")
    inside = (root / "images").resolve()
    return [p.resolve() for p in paths if p.resolve().parent != inside]


def stored_path(path: Path, root: Path) -> str:
    """A path as project.toml keeps it: relative inside the project, else absolute."""
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)


def write_new(path: Path, settings: dict[str, Any], images) -> None:
    resolved = resolve_images(images, path) if images is not None else []
    settings = check_settings(dict(settings), path / SETTINGS)
    if resolved:
        settings["images"] = {"paths": [stored_path(p, path) for p in resolved]}
    for sub in ("images", "annotations"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    write_toml(path / SETTINGS, settings, HEADER)


def set_class_names(model: Any, names: Mapping[int, str]) -> None:
    if names and hasattr(type(model), "class_names"):
        model.class_names = dict(names)
