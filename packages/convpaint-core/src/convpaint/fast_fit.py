"""The fast forest fit: scikit-learn-intelex grows the trees, plain scikit-learn trees come out.

:class:`IntelexRandomForest` is a scikit-learn ``RandomForestClassifier`` whose
``fit`` runs scikit-learn-intelex's (oneDAL's) random forest with the same
parameters and then keeps only its trees, which are scikit-learn
``DecisionTreeClassifier`` objects: prediction (the compiled kernel of
:mod:`convpaint.forest_kernel` or scikit-learn), model files
(:func:`convpaint.classifier.forest_to_arrays`, saved as a plain
``RandomForestClassifier``) and loading never touch scikit-learn-intelex.

The same ``random_state`` gives the same trees whatever the thread count, but
not scikit-learn's trees: oneDAL draws its own bootstrap samples and feature
subsets and splits on at most ``max_bins`` (256) quantile bins per feature.

Which fit a default forest gets (:func:`resolve_fit`): ``"sklearn"``,
``"intelex"`` (an ``ImportError`` naming the extra when it is not installed) or
``"auto"`` -- the environment variable ``CONVPAINT_FIT`` when set, else
``"intelex"`` when scikit-learn-intelex is installed
(``pip install "convpaint-core[fast]"``), else ``"sklearn"``.

Below :data:`SKLEARN_BELOW` samples the forest is scikit-learn's own (the very
trees of ``RandomForestClassifier``): from a few dozen scribbled pixels oneDAL's
forests generalise worse more often (docs/interactive.md), and such fits take
scikit-learn well under a second anyway.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier

FIT_MODES = ("auto", "sklearn", "intelex")
SKLEARN_BELOW = 1000  # samples: fewer are fitted by scikit-learn itself
ENV = "CONVPAINT_FIT"
INSTALL = 'pip install "convpaint-core[fast]"'
# fitted state of a forest that prediction, scoring and model files read
_FITTED = (
    "n_features_in_",
    "feature_names_in_",
    "n_outputs_",
    "classes_",
    "n_classes_",
    "estimator_",
    "oob_score_",
    "oob_decision_function_",
    "_n_samples",
    "_n_samples_bootstrap",
)


def intelex_available() -> bool:
    """Whether scikit-learn-intelex is installed (found, not imported: imports take ~0.4 s)."""
    return importlib.util.find_spec("sklearnex") is not None


def check_fit(fit: Any) -> str:
    """``fit`` if it is one of :data:`FIT_MODES`, else a ``ValueError``."""
    if not isinstance(fit, str) or fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {', '.join(map(repr, FIT_MODES))}, got {fit!r}")
    return fit


def resolve_fit(fit: str = "auto") -> str:
    """``"sklearn"`` or ``"intelex"``: the fit that ``fit`` (one of :data:`FIT_MODES`) means
    here (``"auto"``: ``$CONVPAINT_FIT`` when set, else intelex when installed)."""
    fit = check_fit(fit)
    if fit == "auto":
        env = os.environ.get(ENV, "").strip()
        if env:
            try:
                fit = check_fit(env)
            except ValueError:
                raise ValueError(
                    f"{ENV} must be one of {', '.join(FIT_MODES)}, got {env!r}"
                ) from None
    if fit == "auto":
        fit = "intelex" if intelex_available() else "sklearn"
    if fit == "intelex" and not intelex_available():
        raise ImportError(f"fit='intelex' needs scikit-learn-intelex: {INSTALL}")
    return fit


def forest_classifier(fit: str = "auto", **params: Any) -> RandomForestClassifier:
    """An unfitted random forest with ``params`` whose ``fit`` is the one ``fit`` resolves to."""
    kind = IntelexRandomForest if resolve_fit(fit) == "intelex" else RandomForestClassifier
    return kind(**params)


class IntelexRandomForest(RandomForestClassifier):
    """A ``RandomForestClassifier`` fitted by scikit-learn-intelex (the same parameters).

    After :meth:`fit` it holds plain scikit-learn trees (class indices ``0..n-1``
    as scikit-learn's own forests have them) and no oneDAL state: it predicts,
    pickles, saves and loads like any ``RandomForestClassifier``.
    ``fitted_by_`` says which library grew the trees (``"oneDAL"``, or
    ``"scikit-learn"`` below :data:`SKLEARN_BELOW` samples or where
    scikit-learn-intelex falls back to it, e.g. for ``ccp_alpha > 0``).
    ``estimators_samples_`` are not oneDAL's bootstrap samples.
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> IntelexRandomForest:
        if len(X) < SKLEARN_BELOW:
            super().fit(X, y, sample_weight=sample_weight)
            self.fitted_by_ = "scikit-learn"
            return self
        try:
            from sklearnex.ensemble import RandomForestClassifier as OneDALForest
        except ImportError as exc:
            raise ImportError(
                f"IntelexRandomForest needs scikit-learn-intelex ({exc}): {INSTALL}"
            ) from None
        fast = OneDALForest(**self.get_params()).fit(X, y, sample_weight=sample_weight)
        n_classes = int(fast.n_classes_)
        trees = list(fast.estimators_)  # converted from the oneDAL model here
        for tree in trees:
            if getattr(tree, "n_outputs_", 1) != 1:
                raise ValueError("multi-output forests are not supported")
            tree.classes_ = np.arange(n_classes, dtype=np.float64)
            tree.n_classes_ = np.int64(n_classes)
            if not hasattr(tree, "max_features_"):
                tree.max_features_ = tree.max_features
                tree.max_features = self.max_features
        for name in _FITTED:
            if hasattr(fast, name):
                setattr(self, name, getattr(fast, name))
        self.estimators_ = trees
        self.fitted_by_ = "oneDAL" if getattr(fast, "_onedal_estimator", None) else "scikit-learn"
        return self


def with_fit(classifier: Any, fit: str = "auto") -> Any:
    """A plain ``RandomForestClassifier`` (fitted or not, e.g. a loaded one) turned into one
    whose next ``fit`` is the one ``fit`` resolves to (its trees and parameters kept);
    any other classifier, or any where scikit-learn-intelex is missing, unchanged (so
    that loading never needs it)."""
    try:
        mode = resolve_fit(fit)
    except ImportError:
        return classifier
    kind = IntelexRandomForest if mode == "intelex" else RandomForestClassifier
    if type(classifier) not in (RandomForestClassifier, IntelexRandomForest):
        return classifier
    if type(classifier) is kind:
        return classifier
    out = kind(**classifier.get_params())
    out.__dict__.update({k: v for k, v in vars(classifier).items() if k != "fitted_by_"})
    return out
