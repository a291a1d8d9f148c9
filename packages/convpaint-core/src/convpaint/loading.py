"""Loading a model file into a :class:`~convpaint.model.ConvpaintModel`.

:mod:`convpaint.model_file` reads and validates the file (no pickle, no code
run); this module builds the model from it, after checking that the
extractors it names are installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .fast_fit import with_fit
from .model import ConvpaintModel
from .model_file import SAFE_NAME, ModelFileError, read_model_file
from .registry import list_extractors
from .upsampler_registry import list_upsamplers


def _missing_extractors(path: Path, missing: list[str], packages: dict[str, str]) -> str:
    """A message naming what to install, quoting only names of a safe form (no file text
    is ever shown as a command)."""
    parts = []
    for name in missing:
        package = packages.get(name, "")
        if not SAFE_NAME.match(name):
            parts.append("an unknown extractor (its name in the file is not a valid name)")
        elif SAFE_NAME.match(package):
            parts.append(f"{name}: install {package}, the package the file names for it")
        else:
            parts.append(f"{name}: install the package that provides it")
    return (
        f"{path} needs extractor(s) that are not installed -- {'; '.join(parts)} "
        "(`convpaint extractors` lists the installed ones)"
    )


def _missing_upsampler(path: Path, name: str, package: str) -> str:
    what = f"upsampler {name!r}" if SAFE_NAME.match(name) else "an unknown upsampler"
    how = (
        f"install {package}, the package the file names for it"
        if SAFE_NAME.match(name) and SAFE_NAME.match(package)
        else "install the package that provides it"
    )
    return (
        f"{path} needs {what}, which is not installed -- {how} "
        "(`convpaint extractors` lists the installed upsamplers)"
    )


def load_model(path: str | os.PathLike) -> ConvpaintModel:
    """Load a model saved with :meth:`ConvpaintModel.save` (no pickle, no code run)."""
    path = Path(path)
    meta, clf = read_model_file(path)
    ex = meta["extractor"]
    names, options, packages = ex["names"], ex["options"], ex.get("packages", {})
    installed = set(list_extractors())
    missing = [n for n in names if n not in installed]
    if missing:
        raise ModelFileError(_missing_extractors(path, missing, packages))
    up = meta.get("upsampler")
    if up is not None and up["name"] not in list_upsamplers():
        raise ModelFileError(_missing_upsampler(path, up["name"], up.get("package", "")))
    try:
        parts = names[0] if len(names) == 1 else names
        kwargs = options.get(names[0], {}) if len(names) == 1 else options
        model = ConvpaintModel(
            parts,
            scalings=meta.get("scalings"),
            normalize=meta.get("normalize", "image"),
            classifier=with_fit(clf),  # retraining grows trees as a new model would
            volumetric=meta.get("volumetric", False),
            tile_size=meta.get("tile_size"),
            coarse_to_fine=meta.get("coarse_to_fine", 1),  # files before 0.2: every pixel
            projections=meta.get("projections") or ("xy",),  # older files: xy planes
            z_scale=meta.get("z_scale", 1.0),
            class_names=meta.get("class_names"),  # older files: default names
            class_colors=meta.get("class_colors"),
            downsample=meta.get("downsample", 1),
            smooth=meta.get("smooth", 0),
            upsampler=up and up["name"],
            upsampler_options=up and up.get("options", {}),
            **kwargs,
        )
    except Exception as exc:  # settings this convpaint or the extractor refuses
        raise ModelFileError(
            f"{path}: invalid model settings ({type(exc).__name__}: {exc})"
        ) from None
    model.classes_ = np.asarray(meta["classes"], dtype=np.int64)
    seed = clf.random_state
    if type(seed) is int:  # the forest's seed is the model's
        model.seed = seed
    model.n_channels_ = meta.get("n_channels")
    model.axes_ = meta.get("axes")
    model.n_features_ = meta["n_features"]
    model.training_ = dict(meta.get("training", {}))
    return model
