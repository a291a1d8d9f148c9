"""The pixel classifier: a seeded random forest by default, any scikit-learn classifier accepted."""

from __future__ import annotations

from typing import Any

import numpy as np


def default_classifier(
    seed: int = 0, n_estimators: int = 100, max_depth: int | None = None, n_jobs: int = -1
) -> Any:
    """The default ``RandomForestClassifier`` (deterministic for a given ``seed``)."""
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth, n_jobs=n_jobs, random_state=seed
    )


def check_classifier(clf: Any) -> Any:
    for method in ("fit", "predict_proba"):
        if not callable(getattr(clf, method, None)):
            raise TypeError(f"classifier {clf!r} has no {method}() method")
    return clf


def check_training_labels(y: np.ndarray) -> np.ndarray:
    """Classes of the annotated pixels; at least two are needed."""
    classes = np.unique(y)
    if y.size == 0:
        raise ValueError(
            "annotations are empty: draw at least one scribble per class (0 = unlabelled)"
        )
    if classes.size < 2:
        raise ValueError(
            f"annotations contain a single class ({classes[0]}); draw scribbles for at least two classes"
        )
    return classes


def predict_proba_features(clf: Any, features: np.ndarray) -> np.ndarray:
    """(n_classes, n) float32 probabilities of (F, n) features (as tiles hold them).

    scikit-learn forests go through the compiled kernel of
    :mod:`convpaint.forest_kernel` (the same numbers, no transposed copy).
    """
    if _is_sklearn_forest(clf):
        from .forest_kernel import forest_proba

        proba = forest_proba(clf, features)
        if proba is not None:
            return proba.astype(np.float32)
    return predict_proba_in_chunks(clf, features.T).T


def predict_proba_in_chunks(clf: Any, features: np.ndarray, chunk: int = 262_144) -> np.ndarray:
    """``clf.predict_proba`` on (n_pixels, F) features, in chunks to bound memory."""
    forest = _is_sklearn_forest(clf)
    out = []
    for start in range(0, features.shape[0], chunk):
        x = features[start : start + chunk]
        proba = _forest_proba(clf, x) if forest else clf.predict_proba(x)
        out.append(np.asarray(proba, dtype=np.float32))
    return np.concatenate(out, axis=0)


def _is_sklearn_forest(clf: Any) -> bool:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    return (
        type(clf) in (RandomForestClassifier, ExtraTreesClassifier)
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
