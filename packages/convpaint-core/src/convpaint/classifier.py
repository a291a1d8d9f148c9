"""The pixel classifier: a seeded random forest by default, any scikit-learn classifier accepted.

Also: the rule for class values (:func:`check_training_labels`: kept exactly, or
refused), the labels' dtype (:func:`label_dtype`), and forests as plain arrays for
model files (:func:`forest_to_arrays`, :func:`forest_from_arrays`, which checks
every tree before rebuilding it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

TREE_KINDS = ("RandomForestClassifier", "ExtraTreesClassifier")  # saved without pickle
PARAM_TYPES = (int, float, str, bool, type(None))


class ForestDataError(ValueError):
    """Arrays meant to rebuild a forest do not describe one (crafted or corrupt)."""


def default_classifier(
    seed: int = 0,
    n_estimators: int = 100,
    max_depth: int | None = None,
    n_jobs: int = -1,
    fit: str = "auto",
) -> Any:
    """The default ``RandomForestClassifier`` (deterministic for a given ``seed``).

    ``fit`` (:mod:`convpaint.fast_fit`): ``"sklearn"``, ``"intelex"`` (grown by
    scikit-learn-intelex, 3-9x faster, stored as plain scikit-learn trees) or
    ``"auto"`` (``$CONVPAINT_FIT``, else intelex when installed).
    """
    from .fast_fit import forest_classifier

    return forest_classifier(
        fit, n_estimators=n_estimators, max_depth=max_depth, n_jobs=n_jobs, random_state=seed
    )


def check_classifier(clf: Any) -> Any:
    for method in ("fit", "predict_proba"):
        if not callable(getattr(clf, method, None)):
            raise TypeError(f"classifier {clf!r} has no {method}() method")
    return clf


INT64_MAX = 2**63 - 1
EXACT_FLOAT = 2**53  # floats above this may already have lost their integer value
CLASS_RULE = (
    "class values must be integers in the int64 range 1..2**63-1 (0 = unlabelled); "
    f"float annotations must hold whole numbers of magnitude <= 2**53 ({EXACT_FLOAT})"
)


def check_training_labels(y: np.ndarray) -> np.ndarray:
    """Classes (int64, sorted, exactly the values annotated) of the annotated pixels ``y``.

    ``y`` holds the labels of the annotated pixels in the annotations' own dtype.
    At least two classes are needed.  Values are kept exactly or refused with a
    ``ValueError`` naming the value: beyond the int64 range (uint64 >= 2**63),
    negative (a wrapped uint64), non-integer floats, and floats above 2**53
    (their integer value may already be lost, e.g. ``1e20``).
    """
    y = np.asarray(y)
    if y.size == 0:
        raise ValueError(
            "annotations are empty: draw at least one scribble per class (0 = unlabelled)"
        )
    if y.dtype == bool:
        y = y.astype(np.uint8)
    if y.dtype.kind not in "iuf":
        raise ValueError(
            f"annotations must be integer class labels, got dtype {y.dtype}; " + CLASS_RULE
        )
    values = np.unique(y)
    if y.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(values) & (np.mod(values, 1) == 0)
        bad = values[~whole | (np.abs(values) > EXACT_FLOAT)]
        if bad.size:
            raise ValueError(f"class value {bad[0]!r} is refused: {CLASS_RULE}")
    elif y.dtype.kind == "u" and values[-1] > INT64_MAX:
        raise ValueError(f"class value {int(values[-1])} is refused: {CLASS_RULE}")
    if values[0] < 1:
        raise ValueError(f"class value {values[0].item()!r} is refused: {CLASS_RULE}")
    classes = values.astype(np.int64)
    if classes.size < 2:
        raise ValueError(
            f"annotations contain a single class ({classes[0]}); draw scribbles for at least "
            "two classes"
        )
    return classes


def label_dtype(classes: np.ndarray) -> np.dtype:
    """The smallest integer dtype holding every class value (the labels' dtype)."""
    classes = np.asarray(classes)
    return np.result_type(
        np.min_scalar_type(int(classes.max())), np.min_scalar_type(int(classes.min()))
    )


def _check_n_features(clf: Any, n: int) -> None:
    expected = getattr(clf, "n_features_in_", None)
    if expected is not None and n != expected:
        raise ValueError(f"got {n} features per pixel; the classifier was trained on {expected}")


def predict_proba_features(
    clf: Any, features: np.ndarray, labels_only: bool = False, sure_at: float = 0.0
) -> np.ndarray:
    """(n_classes, n) float32 probabilities of (F, n) features (as tiles hold them).

    scikit-learn forests go through the compiled kernel of
    :mod:`convpaint.forest_kernel` (the same numbers, no transposed copy).
    ``labels_only``: only the argmax of the result is asked for; the kernel may then stop
    walking trees once it is settled (same argmax, values no longer probabilities);
    ``sure_at``: and once it is settled whether the top probability reaches it.
    """
    _check_n_features(clf, features.shape[0])
    if _is_sklearn_forest(clf):
        from .forest_kernel import forest_proba

        proba = forest_proba(clf, features, labels_only, sure_at)
        if proba is not None:
            return proba.astype(np.float32)
    return predict_proba_in_chunks(clf, features.T).T


def predict_proba_in_chunks(clf: Any, features: np.ndarray, chunk: int = 262_144) -> np.ndarray:
    """``clf.predict_proba`` on (n_pixels, F) features, in chunks to bound memory."""
    _check_n_features(clf, features.shape[1])
    forest = _is_sklearn_forest(clf)
    out = []
    for start in range(0, features.shape[0], chunk):
        x = features[start : start + chunk]
        proba = _forest_proba(clf, x) if forest else clf.predict_proba(x)
        out.append(np.asarray(proba, dtype=np.float32))
    return np.concatenate(out, axis=0)


def _is_sklearn_forest(clf: Any) -> bool:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    from .fast_fit import IntelexRandomForest

    return (
        type(clf) in (RandomForestClassifier, ExtraTreesClassifier, IntelexRandomForest)
        and getattr(clf, "n_outputs_", 1) == 1
        and "predict_proba" not in vars(clf)  # not wrapped by the caller
    )


def _forest_proba(clf: Any, x: np.ndarray) -> np.ndarray:
    """A forest's ``predict_proba`` in the calling thread, trees summed in a fixed order.

    The same numbers as scikit-learn's (mean of the trees' class fractions)
    without its per-call joblib dispatch, which costs ~10 ms per call however
    few the pixels -- prediction already runs tiles on parallel threads.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    total = np.zeros((x.shape[0], clf.n_classes_), np.float64)
    for tree in clf.estimators_:
        total += tree.predict_proba(x, check_input=False)
    total /= len(clf.estimators_)
    return total


# -- forests as plain arrays (model files) ---------------------------------------------
def forest_to_arrays(clf: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A trained forest as JSON-able metadata and plain arrays (no pickle).

    An :class:`~convpaint.fast_fit.IntelexRandomForest` is saved as the plain
    ``RandomForestClassifier`` it is (loading needs no scikit-learn-intelex).
    """
    from .fast_fit import IntelexRandomForest

    kind = "RandomForestClassifier" if type(clf) is IntelexRandomForest else type(clf).__name__
    if kind not in TREE_KINDS or not hasattr(clf, "estimators_"):
        raise TypeError(
            f"cannot save a {kind} without pickle; model files support trained "
            f"{' and '.join(TREE_KINDS)} classifiers"
        )
    if getattr(clf, "n_outputs_", 1) != 1:
        raise TypeError("multi-output forests are not supported")
    params = {k: v for k, v in clf.get_params(deep=False).items() if isinstance(v, PARAM_TYPES)}
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
        arrays[f"tree_{i}_nodes"] = _zero_padded(state["nodes"])
        arrays[f"tree_{i}_values"] = state["values"]
    return meta, arrays


def _zero_padded(nodes: np.ndarray) -> np.ndarray:
    """The node records with their padding bytes zeroed (trees built from arrays, e.g. by
    scikit-learn-intelex, leave them undefined: files and fingerprints would differ)."""
    clean = np.zeros(nodes.shape, nodes.dtype)
    for name in nodes.dtype.names or ():
        clean[name] = nodes[name]
    return clean


def _check_tree(
    name: str, nodes: np.ndarray, values: np.ndarray, n_features: int, n_classes: int, depth: int
) -> None:
    from .forest_kernel import tree_order

    n = nodes.shape[0]
    if values.dtype != np.float64 or values.shape != (n, 1, n_classes):
        raise ForestDataError(
            f"{name}_values must be float64 of shape ({n}, 1, {n_classes}), "
            f"got {values.dtype} {values.shape}"
        )
    if not np.isfinite(values).all() or (values < 0).any():
        raise ForestDataError(f"{name}_values must be finite and >= 0")
    try:
        _, levels = tree_order(nodes["left_child"], nodes["right_child"])
    except ValueError as exc:  # a DAG, a cycle, a zero-node tree, bad children
        raise ForestDataError(f"{name}_nodes: {exc}") from None
    leaf = nodes["left_child"] == -1
    feat = nodes["feature"]
    if np.any((feat[~leaf] < 0) | (feat[~leaf] >= n_features)) or np.any(feat[leaf] != -2):
        raise ForestDataError(
            f"{name}_nodes: tree feature indices out of range (inner nodes 0..{n_features - 1},"
            " leaves -2)"
        )
    if not np.isfinite(nodes["threshold"][~leaf]).all():
        raise ForestDataError(f"{name}_nodes: tree thresholds are not finite")
    if (
        not (
            np.isfinite(nodes["impurity"]).all()
            and np.isfinite(nodes["weighted_n_node_samples"]).all()
        )
        or (nodes["missing_go_to_left"] > 1).any()
    ):
        raise ForestDataError(f"{name}_nodes: node statistics are not finite or not 0/1")
    if levels - 1 != depth:
        raise ForestDataError(f"classifier.depths: {name} has depth {levels - 1}, not {depth}")


def forest_from_arrays(meta: dict[str, Any], data: dict[str, np.ndarray]) -> Any:
    """The forest of :func:`forest_to_arrays` output, every tree checked first.

    ``meta`` must be validated already (``convpaint.model_file.check_metadata``);
    :class:`ForestDataError` names the array or field that is wrong.
    """
    from sklearn import ensemble, tree
    from sklearn.tree._tree import Tree

    kind = meta["kind"]
    n_trees = meta["n_trees"]
    expected = {f"tree_{i}_{part}" for i in range(n_trees) for part in ("nodes", "values")}
    if set(data) != expected:
        missing, extra = sorted(expected - set(data)), sorted(set(data) - expected)
        what = f"missing {', '.join(missing[:3])}" if missing else ""
        what += ("; " if what else "") + (f"unexpected {extra[:3]}" if extra else "")
        raise ForestDataError(f"classifier.n_trees is {n_trees} but the file's trees are {what}")
    forest = getattr(ensemble, kind)(**meta["params"])
    n_features = meta["n_features"]
    n_classes = len(meta["classes"])
    tree_classes = np.arange(n_classes, dtype=np.float64)
    est_kind = (
        tree.DecisionTreeClassifier
        if kind == "RandomForestClassifier"
        else tree.ExtraTreeClassifier
    )
    est_params = {p: getattr(forest, p) for p in forest.estimator_params}
    node_dtype = Tree(1, np.array([2], dtype=np.intp), 1).__getstate__()["nodes"].dtype
    estimators = []
    for i in range(n_trees):
        nodes, values = data[f"tree_{i}_nodes"], data[f"tree_{i}_values"]
        if nodes.dtype != node_dtype or nodes.ndim != 1:
            raise ForestDataError(
                f"tree_{i}_nodes: tree layout differs from this scikit-learn version's; "
                "retrain the model"
            )
        _check_tree(f"tree_{i}", nodes, values, n_features, n_classes, meta["depths"][i])
        t = Tree(n_features, np.array([n_classes], dtype=np.intp), 1)
        t.__setstate__(
            {
                "max_depth": meta["depths"][i],
                "node_count": nodes.shape[0],
                "nodes": np.ascontiguousarray(nodes),
                "values": np.ascontiguousarray(values),
            }
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
    forest.classes_ = np.asarray(meta["classes"], dtype=np.int64)
    forest.n_classes_ = n_classes
    return forest


def fresh_copy(classifier: Any) -> Any:
    """An unfitted copy with the same parameters (training never touches a classifier
    that another thread may be predicting with)."""
    try:
        from sklearn.base import clone

        return clone(classifier)
    except (TypeError, ValueError, RuntimeError):
        import copy

        return copy.deepcopy(classifier)
