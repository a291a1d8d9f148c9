"""Model files: one ``.npz`` archive, loaded without pickle.

Layout: ``meta`` holds UTF-8 JSON (format name and version, extractor name,
options and packages, scalings, normalisation, channels and axes, classes,
classifier parameters); ``tree_<i>_nodes`` / ``tree_<i>_values`` hold each
tree of the forest as plain arrays.  Loading uses ``allow_pickle=False`` and
checks every tree for consistency, so a corrupt or crafted file raises
:class:`ModelFileError` and never runs code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .archive import ArchiveError, read_npz
from .io import publish, temp_beside

FORMAT = "convpaint-model"
VERSION = 1
_TREE_KINDS = ("RandomForestClassifier", "ExtraTreesClassifier")
_PARAM_TYPES = (int, float, str, bool, type(None))


class ModelFileError(ValueError):
    """A model file is missing, corrupt, crafted or from an incompatible version."""


def _forest_arrays(clf: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    kind = type(clf).__name__
    if kind not in _TREE_KINDS or not hasattr(clf, "estimators_"):
        raise TypeError(
            f"cannot save a {kind} without pickle; model files support trained "
            f"{' and '.join(_TREE_KINDS)} classifiers"
        )
    if getattr(clf, "n_outputs_", 1) != 1:
        raise TypeError("multi-output forests are not supported")
    params = {k: v for k, v in clf.get_params(deep=False).items() if isinstance(v, _PARAM_TYPES)}
    meta = {
        "kind": kind,
        "params": params,
        "n_features": int(clf.n_features_in_),
        "classes": np.asarray(clf.classes_).tolist(),
        "tree_classes": np.asarray(clf.estimators_[0].classes_).tolist(),
        "depths": [int(est.tree_.max_depth) for est in clf.estimators_],
        "n_trees": len(clf.estimators_),
    }
    arrays = {}
    for i, est in enumerate(clf.estimators_):
        state = est.tree_.__getstate__()
        arrays[f"tree_{i}_nodes"] = state["nodes"]
        arrays[f"tree_{i}_values"] = state["values"]
    return meta, arrays


def save_model(path: str | os.PathLike, meta: dict[str, Any], classifier: Any) -> Path:
    """Write ``meta`` and the trained forest atomically to ``path``."""
    path = Path(path)
    clf_meta, arrays = _forest_arrays(classifier)
    doc = {"format": FORMAT, "version": VERSION, **meta, "classifier": clf_meta}
    payload = np.frombuffer(json.dumps(doc).encode("utf-8"), dtype=np.uint8)
    fd, tmp = temp_beside(path, ".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, meta=payload, **arrays)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
        meta = json.loads(data.pop("meta").tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, 5000-digit ints, deep nesting
        raise ModelFileError(f"{path}: corrupt metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a convpaint model file")
    if meta.get("version") != VERSION:
        raise ModelFileError(
            f"{path} has model format version {meta.get('version')}; this convpaint reads version {VERSION}"
        )
    try:
        clf = _rebuild_forest(meta["classifier"], data)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError) as exc:
        raise ModelFileError(
            f"{path}: corrupt classifier data ({type(exc).__name__}: {exc})"
        ) from None
    return meta, clf


def _check_tree(nodes: np.ndarray, values: np.ndarray, n_features: int, n_classes: int) -> None:
    n = nodes.shape[0]
    if values.shape != (n, 1, n_classes) or not np.isfinite(values).all():
        raise ModelFileError("tree values have the wrong shape or are not finite")
    left, right, feat = nodes["left_child"], nodes["right_child"], nodes["feature"]
    idx = np.arange(n)
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        raise ModelFileError("tree has nodes with a single child")
    inner = ~leaf
    if np.any((left[inner] <= idx[inner]) | (left[inner] >= n)) or np.any(
        (right[inner] <= idx[inner]) | (right[inner] >= n)
    ):
        raise ModelFileError("tree child indices out of range")
    if np.any((feat[inner] < 0) | (feat[inner] >= n_features)):
        raise ModelFileError("tree feature indices out of range")
    if not np.isfinite(nodes["threshold"][inner]).all():
        raise ModelFileError("tree thresholds are not finite")


def _rebuild_forest(meta: dict[str, Any], data: dict[str, np.ndarray]) -> Any:
    from sklearn import ensemble, tree
    from sklearn.tree._tree import Tree

    kind = meta["kind"]
    if kind not in _TREE_KINDS:
        raise ModelFileError(f"unsupported classifier kind {kind!r}")
    params = {k: v for k, v in meta["params"].items() if isinstance(v, _PARAM_TYPES)}
    forest = getattr(ensemble, kind)(**params)
    n_features = int(meta["n_features"])
    tree_classes = np.asarray(meta["tree_classes"], dtype=np.float64)
    n_classes = tree_classes.size
    est_kind = (
        tree.DecisionTreeClassifier
        if kind == "RandomForestClassifier"
        else tree.ExtraTreeClassifier
    )
    est_params = {p: getattr(forest, p) for p in forest.estimator_params}
    node_dtype = Tree(1, np.array([2], dtype=np.intp), 1).__getstate__()["nodes"].dtype
    estimators = []
    for i in range(int(meta["n_trees"])):
        nodes, values = data[f"tree_{i}_nodes"], data[f"tree_{i}_values"]
        if nodes.dtype != node_dtype:
            raise ModelFileError(
                "tree layout differs from this scikit-learn version's; retrain the model"
            )
        values = np.ascontiguousarray(values, dtype=np.float64)
        _check_tree(nodes, values, n_features, n_classes)
        t = Tree(n_features, np.array([n_classes], dtype=np.intp), 1)
        depth = int(meta["depths"][i])
        t.__setstate__(
            {"max_depth": depth, "node_count": nodes.shape[0], "nodes": nodes, "values": values}
        )
        est = est_kind(**est_params)
        est.n_features_in_ = n_features
        est.n_outputs_ = 1
        est.classes_ = tree_classes
        est.n_classes_ = n_classes
        est.max_features_ = n_features
        est.tree_ = t
        estimators.append(est)
    forest.estimators_ = estimators
    forest.estimator_ = est_kind(**est_params)
    forest.n_features_in_ = n_features
    forest.n_outputs_ = 1
    forest.classes_ = np.asarray(meta["classes"])
    if forest.classes_.shape != (n_classes,):
        raise ModelFileError("class list does not match the trees")
    forest.n_classes_ = n_classes
    return forest


def load_model(path: str | os.PathLike) -> Any:
    """Load a model saved with :meth:`ConvpaintModel.save` (no pickle, no code run)."""
    from .model import ConvpaintModel
    from .registry import ExtractorNotFoundError

    meta, clf = read_model_file(path)
    try:
        ex = meta["extractor"]
        names, options, packages = ex["names"], ex["options"], ex.get("packages", {})
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise TypeError("extractor names")
        if not isinstance(options, dict) or not isinstance(packages, dict):
            raise TypeError("extractor options and packages must be mappings")
        for key, kind in (("n_channels", int), ("n_features", int), ("axes", str)):
            if meta.get(key) is not None and type(meta[key]) is not kind:
                raise TypeError(f"{key} must be {kind.__name__}, got {meta[key]!r}")
        classes = np.asarray(meta["classes"])
        scalings = meta.get("scalings")
        stride = meta.get("coarse_to_fine", 1)  # files before 0.2: every pixel
        if type(stride) is not int or stride < 1:
            raise TypeError(f"coarse_to_fine must be a positive integer, got {stride!r}")
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{path}: corrupt metadata ({exc})") from None
    try:
        parts = names[0] if len(names) == 1 else names
        kwargs = options.get(names[0], {}) if len(names) == 1 else options
        model = ConvpaintModel(
            parts,
            scalings=scalings,
            normalize=meta.get("normalize", "image"),
            classifier=clf,
            volumetric=bool(meta.get("volumetric", False)),
            tile_size=meta.get("tile_size"),
            coarse_to_fine=stride,
            projections=meta.get("projections") or ("xy",),  # older files: xy planes
            z_scale=meta.get("z_scale", 1.0),
            **kwargs,
        )
    except ExtractorNotFoundError:
        from .registry import list_extractors

        missing = [n for n in names if n not in list_extractors()]
        pkgs = ", ".join(packages.get(n) or f"the package providing {n!r}" for n in missing)
        raise ModelFileError(
            f"{path} needs the extractor(s) {', '.join(missing)}: install {pkgs} "
            f"(e.g. pip install {' '.join(packages.get(n) or n for n in missing)})"
        ) from None
    except (TypeError, ValueError, OverflowError) as exc:  # settings this convpaint refuses
        raise ModelFileError(f"{path}: invalid model settings ({exc})") from None
    if not np.array_equal(classes, clf.classes_):
        raise ModelFileError(f"{path}: class list does not match the classifier")
    model.classes_ = classes
    seed = getattr(clf, "random_state", None)
    if type(seed) is int:  # the forest's seed is the model's
        model.seed = seed
    model.n_channels_ = meta.get("n_channels")
    model.axes_ = meta.get("axes")
    model.n_features_ = meta.get("n_features")
    if model.n_features_ is not None and model.n_features_ != clf.n_features_in_:
        raise ModelFileError(f"{path}: feature count does not match the classifier")
    return model
