"""Model files: one ``.npz`` archive, loaded without pickle, every field validated.

Layout: ``meta`` holds UTF-8 JSON (format name and version, extractor name,
options and packages, scalings, normalisation, channels and axes, classes,
classifier parameters); ``tree_<i>_nodes`` / ``tree_<i>_values`` hold each
tree of the forest as plain arrays.  Loading uses ``allow_pickle=False`` and
checks everything a file can set before it is used -- each field's type and
range, that every tree is a tree (:func:`convpaint.forest_kernel.tree_order`:
each node reached once from the root, so work is bounded by the node count) --
so a corrupt or crafted file raises :class:`ModelFileError` naming the field
and never runs code.  Saving checks the same, so a file that is written loads.

:func:`model_fingerprint` is the model's identity: a SHA-256 over exactly what
:func:`save_model` writes (all arrays and the metadata), less the fields that
cannot change a result (``convpaint_version``, class names and colours, training
counts, package versions, ``n_jobs``, ``verbose``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .archive import ArchiveError, read_npz, write_npz
from .classifier import (
    PARAM_TYPES,
    TREE_KINDS,
    ForestDataError,
    forest_from_arrays,
    forest_to_arrays,
)

FORMAT = "convpaint-model"
VERSION = 1
MAX_TREES = 10_000  # n_trees and n_estimators
MAX_FEATURES = 2**20
MAX_CLASSES = 2**16
INT64_MAX = 2**63 - 1
NUMBER_RANGE = (1e-12, 1e12)  # magnitude of non-zero numbers in extractor options
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")  # names quoted in messages
# display and provenance fields: they cannot change a result
_UNUSED_BY_RESULTS = {"convpaint_version", "class_names", "class_colors", "training", "versions"}
_PARAMS_UNUSED_BY_RESULTS = {"n_jobs", "verbose"}


class ModelFileError(ValueError):
    """A model file is missing, corrupt, crafted or from an incompatible version."""


# -- writing ----------------------------------------------------------------------------
def _document(meta: dict[str, Any], classifier: Any) -> tuple[dict[str, Any], dict]:
    clf_meta, arrays = forest_to_arrays(classifier)
    return {"format": FORMAT, "version": VERSION, **meta, "classifier": clf_meta}, arrays


def save_model(path: str | os.PathLike, meta: dict[str, Any], classifier: Any) -> Path:
    """Write ``meta`` and the trained forest atomically to ``path``.

    Refuses (``ModelFileError``, nothing written) what :func:`load_model` would refuse.
    """
    path = Path(path)
    doc, arrays = _document(meta, classifier)
    text = json.dumps(doc)
    try:
        check_metadata(json.loads(text))  # what load_model will read
    except ModelFileError as exc:
        raise ModelFileError(f"cannot save {path}: the file would not load ({exc})") from None
    payload = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return write_npz(path, {"meta": payload, **arrays})


def model_fingerprint(metadata: dict[str, Any], classifier: Any) -> str:
    """SHA-256 hex digest of the model file :func:`save_model` would write.

    Covers every array (each tree's thresholds, features, children and leaf values)
    and the metadata (classes, extractor and options, scalings, normalisation, ...)
    as JSON with sorted keys, less ``convpaint_version`` and the classifier's
    ``n_jobs``/``verbose``, which cannot change a result.  A saved and loaded model
    has its original's fingerprint; a model trained with other labels has another.
    """
    doc, arrays = _document(metadata, classifier)
    doc = {k: v for k, v in doc.items() if k not in _UNUSED_BY_RESULTS}
    clf = dict(doc["classifier"])
    clf["params"] = {k: v for k, v in clf["params"].items() if k not in _PARAMS_UNUSED_BY_RESULTS}
    doc["classifier"] = clf
    h = hashlib.sha256(json.dumps(doc, sort_keys=True).encode("utf-8"))
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{arr.dtype.descr}\0{arr.shape}\0".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


# -- field checks -------------------------------------------------------------------------
def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(field: str, rule: str, value: Any) -> None:
    raise ModelFileError(f"{field} must be {rule}, got {_show(value)}")


def _int(field: str, value: Any, lo: int, hi: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is not int or not lo <= value <= hi:
        _fail(field, f"an integer in {lo}..{hi}" + (" or null" if optional else ""), value)


def _str(field: str, value: Any, longest: int = 64, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is not str or not 0 < len(value) <= longest:
        _fail(
            field, f"a string of 1..{longest} characters" + (" or null" if optional else ""), value
        )


def _list(field: str, value: Any, lo: int, hi: int) -> list:
    if type(value) is not list or not lo <= len(value) <= hi:
        _fail(field, f"a list of {lo}..{hi} items", value)
    return value


def _dict(field: str, value: Any) -> dict:
    if type(value) is not dict:
        _fail(field, "a mapping", value)
    return value


def _numbers(field: str, value: Any) -> None:
    """Numbers anywhere in ``value`` finite and of sane magnitude (0 or 1e-12..1e12)."""
    if type(value) in (int, float):
        lo, hi = NUMBER_RANGE
        if not math.isfinite(value) or (value != 0 and not lo <= abs(value) <= hi):
            _fail(field, f"a finite number, 0 or of magnitude {lo:g}..{hi:g}", value)
    elif type(value) is list:
        for i, item in enumerate(value):
            _numbers(f"{field}[{i}]", item)
    elif type(value) is dict:
        for key, item in value.items():
            _numbers(f"{field}.{key}", item)


def _classes(field: str, value: Any) -> None:
    _list(field, value, 2, MAX_CLASSES)
    for v in value:
        _int(f"{field} values", v, 1, INT64_MAX)
    if any(a >= b for a, b in zip(value[:-1], value[1:], strict=True)):
        _fail(field, "distinct class values in increasing order", value)


def check_metadata(meta: dict[str, Any]) -> None:
    """Validate every field of a model file's metadata; ``ModelFileError`` names the field."""
    from .normalize import MODES
    from .projections import FAMILIES

    _str("convpaint_version", meta.get("convpaint_version"), optional=True)
    ex = _dict("extractor", meta.get("extractor"))
    names = _list("extractor.names", ex.get("names"), 1, 16)
    for name in names:
        _str("extractor.names", name)
    if len(set(names)) != len(names):
        _fail("extractor.names", "distinct names", names)
    options = _dict("extractor.options", ex.get("options"))
    for key, value in options.items():
        if key not in names:
            _fail("extractor.options", f"keyed by the extractor names {names}", key)
        _numbers(f"extractor.options.{key}", _dict(f"extractor.options.{key}", value))
    for key, value in _dict("extractor.packages", ex.get("packages", {})).items():
        if value != "":  # "": not known when saved
            _str(f"extractor.packages.{key}", value, longest=200)
    scalings = meta.get("scalings")
    if scalings is not None:
        for s in _list("scalings", scalings, 1, 16):
            _int("scalings", s, 1, 1024)
    if meta.get("normalize", "image") not in MODES:
        _fail("normalize", f"one of {MODES}", meta.get("normalize"))
    if type(meta.get("volumetric", False)) is not bool:
        _fail("volumetric", "true or false", meta.get("volumetric"))
    projections = meta.get("projections")
    if projections is not None:
        for p in _list("projections", projections, 1, len(FAMILIES)):
            if p not in FAMILIES:
                _fail("projections", f"plane families from {FAMILIES}", projections)
    z_scale = meta.get("z_scale", 1.0)
    if type(z_scale) not in (int, float) or not 0 < z_scale <= 1e6:
        _fail("z_scale", "a number in (0, 1e6]", z_scale)
    _int("tile_size", meta.get("tile_size"), 1, 2**16, optional=True)
    _int("coarse_to_fine", meta.get("coarse_to_fine", 1), 1, 1024)
    _int("n_channels", meta.get("n_channels"), 1, 2**16, optional=True)
    axes = meta.get("axes")
    _str("axes", axes, longest=5, optional=True)
    if axes is not None and (
        len(set(axes)) != len(axes) or set(axes) - set("TCZYX") or not {"Y", "X"} <= set(axes)
    ):
        _fail("axes", "distinct letters of TCZYX including Y and X", axes)
    _int("n_features", meta.get("n_features"), 1, MAX_FEATURES)
    _classes("classes", meta.get("classes"))
    _int("downsample", meta.get("downsample", 1), 1, 1024)
    _int("smooth", meta.get("smooth", 0), 0, 1024)
    if "upsampler" in meta:  # absent: bilinear (and every file before upsamplers)
        _check_upsampler(_dict("upsampler", meta["upsampler"]))
    _check_display(meta)
    clf = _dict("classifier", meta.get("classifier"))
    if clf.get("kind") not in TREE_KINDS:
        _fail("classifier.kind", f"one of {TREE_KINDS}", clf.get("kind"))
    _check_params(clf["kind"], _dict("classifier.params", clf.get("params")))
    if clf.get("n_features") != meta["n_features"]:
        _fail("classifier.n_features", f"n_features ({meta['n_features']})", clf.get("n_features"))
    if clf.get("classes") != meta["classes"]:
        _fail("classifier.classes", "the model's classes", clf.get("classes"))
    n_classes = len(meta["classes"])
    tree_classes = clf.get("tree_classes")
    if type(tree_classes) is not list or tree_classes != list(range(n_classes)):
        _fail("classifier.tree_classes", f"0..{n_classes - 1} (the class indices)", tree_classes)
    _int("classifier.n_trees", clf.get("n_trees"), 1, MAX_TREES)
    for d in _list("classifier.depths", clf.get("depths"), clf["n_trees"], clf["n_trees"]):
        _int("classifier.depths", d, 0, 2**31)


def _check_upsampler(up: dict[str, Any]) -> None:
    """The ``upsampler`` field: name, options and package (``convpaint.upsampling``)."""
    for key in up:
        if key not in ("name", "options", "package"):
            _fail("upsampler", "a mapping of name, options and package", key)
    _str("upsampler.name", up.get("name"))
    _numbers("upsampler.options", _dict("upsampler.options", up.get("options", {})))
    if up.get("package", "") != "":
        _str("upsampler.package", up.get("package"), longest=200)


def _check_display(meta: dict[str, Any]) -> None:
    """Class names and colours, training counts and package versions (all optional)."""
    from .class_names import check_class_colors, check_class_names

    for field, check in (("class_names", check_class_names), ("class_colors", check_class_colors)):
        value = _dict(field, meta.get(field, {}))
        if len(value) > MAX_CLASSES:
            _fail(field, f"at most {MAX_CLASSES} entries", len(value))
        try:
            check(value)
        except (TypeError, ValueError) as exc:
            raise ModelFileError(str(exc)) from None
    training = _dict("training", meta.get("training", {}))
    for key in ("n_images", "n_samples"):
        _int(f"training.{key}", training.get(key, 0), 0, INT64_MAX)
    for key, n in _dict("training.class_counts", training.get("class_counts", {})).items():
        _str("training.class_counts keys", key, longest=20)
        _int(f"training.class_counts.{key}", n, 0, INT64_MAX)
    for key, value in _dict("versions", meta.get("versions", {})).items():
        _str("versions keys", key, longest=200)
        _str(f"versions.{key}", value, longest=64)


def _check_params(kind: str, params: dict[str, Any]) -> None:
    from sklearn import ensemble

    defaults = getattr(ensemble, kind)().get_params()
    for key, value in params.items():
        field = f"classifier.params.{key}"
        if key not in defaults:
            _fail("classifier.params", f"parameters of {kind}", key)
        if type(value) not in PARAM_TYPES:
            _fail(field, "a number, string, boolean or null", value)
        if isinstance(defaults[key], bool) != isinstance(value, bool):
            _fail(
                field,
                "true or false" if isinstance(defaults[key], bool) else "not a boolean",
                value,
            )
        if type(value) is float and not math.isfinite(value):
            _fail(field, "finite", value)
        if type(value) is int and abs(value) > 2**32:
            _fail(field, "an integer of magnitude <= 2**32", value)
    _int("classifier.params.n_estimators", params.get("n_estimators", 100), 1, MAX_TREES)
    n_jobs = params.get("n_jobs")
    if n_jobs is not None and (type(n_jobs) is not int or n_jobs == 0 or abs(n_jobs) > 1024):
        _fail("classifier.params.n_jobs", "null or a non-zero integer in -1024..1024", n_jobs)
    _int("classifier.params.max_depth", params.get("max_depth"), 1, 100_000, optional=True)
    validate = getattr(getattr(ensemble, kind)(**params), "_validate_params", None)
    try:
        if validate is not None:  # scikit-learn >= 1.2
            validate()
    except Exception as exc:  # scikit-learn's message names the parameter and its range
        raise ModelFileError(f"classifier.params: {exc}") from None


# -- reading ------------------------------------------------------------------------------
def read_model_file(path: str | os.PathLike) -> tuple[dict[str, Any], Any]:
    """Read and validate a model file -> (meta, rebuilt classifier)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        data = read_npz(path)  # bounded: no decompression bombs, no lying array headers
    except (OSError, ArchiveError) as exc:
        raise ModelFileError(f"{path} is not a readable convpaint model file ({exc})") from None
    if "meta" not in data:
        raise ModelFileError(f"{path} is not a convpaint model file (no metadata)")
    try:
        raw = data.pop("meta")
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"metadata must be UTF-8 bytes, got a {raw.dtype} array")
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, 5000-digit ints, deep nesting
        raise ModelFileError(f"{path}: corrupt metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a convpaint model file")
    if meta.get("version") != VERSION:
        raise ModelFileError(
            f"{path} has model format version {_show(meta.get('version'))}; "
            f"this convpaint reads version {VERSION}"
        )
    try:
        check_metadata(meta)
        clf = forest_from_arrays(meta["classifier"], data)
    except (ModelFileError, ForestDataError) as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except (
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        OverflowError,
        AttributeError,
        RecursionError,
    ) as exc:
        raise ModelFileError(
            f"{path}: corrupt classifier data ({type(exc).__name__}: {exc})"
        ) from None
    return meta, clf
