"""The fast forest fit (convpaint.fast_fit): scikit-learn-intelex trees as plain scikit-learn trees."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from convpaint import fast_fit
from convpaint.classifier import (
    default_classifier,
    forest_from_arrays,
    forest_to_arrays,
    fresh_copy,
    predict_proba_features,
)
from convpaint.fast_fit import IntelexRandomForest, check_fit, resolve_fit, with_fit

needs_intelex = pytest.mark.skipif(
    not fast_fit.intelex_available(), reason="scikit-learn-intelex is not installed"
)


def _data(n=1200, n_features=12, n_classes=3, seed=0):  # >= SKLEARN_BELOW: oneDAL fits
    rng = np.random.default_rng(seed)
    y = rng.integers(1, n_classes + 1, n)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    x[:, :3] += y[:, None].astype(np.float32)  # learnable, with overlap
    return x, y


def _arrays(clf):
    """Every tree's bytes and the forest's metadata less its thread count."""
    meta, arrays = forest_to_arrays(clf)
    meta["params"].pop("n_jobs")
    return meta, {k: v.tobytes() for k, v in arrays.items()}


# -- the switch -----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["fast", "", None, 1, "SKLEARN"])
def test_bad_fit_mode_is_refused(bad):
    with pytest.raises(ValueError, match="fit must be one of"):
        check_fit(bad)
    with pytest.raises(ValueError, match="fit must be one of"):
        default_classifier(fit=bad)


def test_env_overrides_auto_only(monkeypatch):
    monkeypatch.setattr(fast_fit, "intelex_available", lambda: True)
    monkeypatch.setenv("CONVPAINT_FIT", "sklearn")
    assert resolve_fit("auto") == "sklearn"
    assert type(default_classifier()) is RandomForestClassifier
    assert resolve_fit("intelex") == "intelex"  # an explicit choice wins
    monkeypatch.setenv("CONVPAINT_FIT", "turbo")
    with pytest.raises(ValueError, match="CONVPAINT_FIT must be one of"):
        resolve_fit("auto")
    monkeypatch.delenv("CONVPAINT_FIT")
    assert resolve_fit("auto") == "intelex"


def test_without_intelex_auto_is_sklearn_and_intelex_is_refused(monkeypatch):
    monkeypatch.delenv("CONVPAINT_FIT", raising=False)
    monkeypatch.setattr(fast_fit, "intelex_available", lambda: False)
    assert resolve_fit("auto") == "sklearn"
    clf = default_classifier(seed=3, n_estimators=7, max_depth=5)
    assert type(clf) is RandomForestClassifier
    assert (clf.random_state, clf.n_estimators, clf.max_depth) == (3, 7, 5)
    with pytest.raises(ImportError, match=r"convpaint-core\[fast\]"):
        default_classifier(fit="intelex")


def test_fit_without_sklearnex_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearnex", None)  # import fails
    monkeypatch.setitem(sys.modules, "sklearnex.ensemble", None)
    with pytest.raises(ImportError, match=r"convpaint-core\[fast\]"):
        IntelexRandomForest(n_estimators=2).fit(*_data())


# -- the fit ----------------------------------------------------------------------------
@needs_intelex
def test_default_is_intelex_when_installed_and_holds_plain_trees(monkeypatch):
    monkeypatch.delenv("CONVPAINT_FIT", raising=False)
    x, y = _data()
    clf = default_classifier(seed=0, n_estimators=10)
    assert type(clf) is IntelexRandomForest
    clf.fit(x, y)
    assert clf.fitted_by_ == "oneDAL"
    assert not hasattr(clf, "_onedal_estimator")
    np.testing.assert_array_equal(clf.classes_, [1, 2, 3])
    for tree in clf.estimators_:
        np.testing.assert_array_equal(tree.classes_, [0.0, 1.0, 2.0])  # as scikit-learn's
    assert (clf.predict(x) == y).mean() > 0.9
    assert type(fresh_copy(clf)) is IntelexRandomForest


@needs_intelex
def test_same_seed_same_forest_any_thread_count():
    x, y = _data()
    one = IntelexRandomForest(n_estimators=8, random_state=5, n_jobs=1).fit(x, y)
    two = IntelexRandomForest(n_estimators=8, random_state=5, n_jobs=2).fit(x, y)
    again = IntelexRandomForest(n_estimators=8, random_state=5, n_jobs=-1).fit(x, y)
    other = IntelexRandomForest(n_estimators=8, random_state=6, n_jobs=1).fit(x, y)
    meta1, arr1 = _arrays(one)
    assert (meta1, arr1) == _arrays(two) == _arrays(again)
    assert arr1 != _arrays(other)[1]


@needs_intelex
@pytest.mark.parametrize("n_classes", [2, 4])
def test_kernel_matches_sklearn_on_exported_trees(n_classes):
    from convpaint.forest_kernel import forest_proba

    x, y = _data(n_classes=n_classes)
    clf = IntelexRandomForest(n_estimators=12, random_state=0).fit(x, y)
    test = _data(n=3000, n_classes=n_classes, seed=1)[0]
    meta, arrays = forest_to_arrays(clf)
    assert meta["kind"] == "RandomForestClassifier"
    exported = forest_from_arrays(meta, arrays)
    assert type(exported) is RandomForestClassifier
    expected = exported.predict_proba(test)  # scikit-learn's own walk
    kernel = forest_proba(clf, np.ascontiguousarray(test.T))
    if kernel is not None:  # numba present: the compiled kernel itself
        np.testing.assert_allclose(kernel.T, expected, rtol=0, atol=1e-6)
    ours = predict_proba_features(clf, np.ascontiguousarray(test.T))
    np.testing.assert_allclose(ours.T, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(RandomForestClassifier.predict_proba(clf, test), expected, atol=0)


@needs_intelex
def test_few_samples_get_scikit_learns_own_forest():
    x, y = _data(n=fast_fit.SKLEARN_BELOW - 1)
    small = IntelexRandomForest(n_estimators=6, random_state=4).fit(x, y)
    plain = RandomForestClassifier(n_estimators=6, random_state=4).fit(x, y)
    assert small.fitted_by_ == "scikit-learn"
    assert _arrays(small) == _arrays(plain)
    x, y = _data(n=fast_fit.SKLEARN_BELOW)
    assert IntelexRandomForest(n_estimators=6, random_state=4).fit(x, y).fitted_by_ == "oneDAL"


@needs_intelex
def test_pickles_like_a_forest():
    x, y = _data()
    clf = IntelexRandomForest(n_estimators=5, random_state=0).fit(x, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(x), clf.predict_proba(x))


@needs_intelex
def test_with_fit_keeps_trees_and_params():
    x, y = _data()
    plain = RandomForestClassifier(n_estimators=6, max_depth=4, random_state=2).fit(x, y)
    fast = with_fit(plain, "intelex")
    assert type(fast) is IntelexRandomForest
    assert fast.get_params() == plain.get_params()
    np.testing.assert_array_equal(fast.predict_proba(x), plain.predict_proba(x))
    assert type(with_fit(fast, "sklearn")) is RandomForestClassifier
    extra = ExtraTreesClassifier(n_estimators=2)
    assert with_fit(extra, "intelex") is extra


def test_with_fit_never_needs_intelex(monkeypatch):
    monkeypatch.setattr(fast_fit, "intelex_available", lambda: False)
    monkeypatch.setenv("CONVPAINT_FIT", "intelex")
    plain = RandomForestClassifier(n_estimators=3)
    assert with_fit(plain) is plain
    assert with_fit(plain, "intelex") is plain
    with pytest.raises(ValueError, match="fit must be one of"):
        with_fit(plain, "gpu")


# -- through the model and its file ---------------------------------------------------------
@needs_intelex
def test_fitted_and_saved_loaded_models_agree(tmp_path, monkeypatch):
    import convpaint
    from convpaint.model_file import read_model_file

    monkeypatch.setenv("CONVPAINT_FIT", "intelex")
    rng = np.random.default_rng(0)
    image = rng.normal(size=(96, 96)).astype(np.float32)
    image[20:70, 30:80] += 2.0
    ann = np.zeros(image.shape, np.uint8)
    ann[25:45, 35:75] = 2  # 800 + 600 pixels: the oneDAL fit
    ann[2:6, 5:80] = 1
    ann[85:90, 10:70] = 1
    model = convpaint.ConvpaintModel("raw", n_estimators=20)
    model.train(image, ann)
    assert type(model.classifier) is IntelexRandomForest
    assert model.classifier.fitted_by_ == "oneDAL"
    twin = convpaint.ConvpaintModel("raw", n_estimators=20).train(image, ann)
    assert twin.fingerprint() == model.fingerprint()  # same seed, same file bytes
    path = model.save(tmp_path / "m.npz")
    meta, _ = read_model_file(path)
    assert meta["classifier"]["kind"] == "RandomForestClassifier"
    monkeypatch.setitem(sys.modules, "sklearnex", None)  # loading never needs it
    monkeypatch.setitem(sys.modules, "sklearnex.ensemble", None)
    loaded = convpaint.load_model(path)
    assert type(loaded.classifier) is RandomForestClassifier
    assert loaded.fingerprint() == model.fingerprint()
    np.testing.assert_array_equal(loaded.predict_proba(image), model.predict_proba(image))
    np.testing.assert_array_equal(loaded.segment(image), model.segment(image))
