"""Labels-only forest walk: pixels leave the forest once their class is settled, and their
labels (argmax, also after rounding to float32) are exactly the full forest's.

Random forests and ExtraTrees with 2, 4 and 11 classes, deep and impure-leaved trees,
exact ties (an even forest split half and half), pixel counts around the group size,
non-finite features, and ``segment`` through coarse to fine against ``predict_proba``.
"""

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

import convpaint
from convpaint import forest_kernel, jit

pytestmark = pytest.mark.skipif(not jit.enabled(), reason="numba off or not installed")


def _data(n_classes, n=2500, n_features=10, noise=0.4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    score = x[:, 0] + 0.5 * x[:, 1] ** 2 + rng.normal(0, noise, n)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return x, y


def _pixels(n_features, n=3001, seed=1):
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(rng.normal(size=(n_features, n)).astype(np.float32))


def _labels(values):
    return values.astype(np.float32).argmax(axis=0)  # as predict_proba_features rounds


def _settled_labels_equal_full(clf, x):
    full = forest_kernel.forest_proba(clf, x)
    part = forest_kernel.forest_proba(clf, x, labels_only=True)
    assert full is not None and part is not None
    assert part.shape == full.shape and part.dtype == np.float64
    assert np.array_equal(_labels(part), _labels(full))
    assert np.all(part <= full)  # partial sums of the same non-negative terms
    return full, part


@pytest.mark.parametrize("n_classes", [2, 4, 11])
@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesClassifier])
@pytest.mark.parametrize("kw", [{}, {"min_samples_leaf": 7}], ids=["pure", "impure"])
def test_labels_only_equal_the_full_forest(cls, n_classes, kw):
    x, y = _data(n_classes)
    clf = cls(n_estimators=40, random_state=0, n_jobs=1, **kw).fit(x, y)
    test = _pixels(x.shape[1])
    test[:, :800] = x[:800].T  # training pixels: most settle early
    full, part = _settled_labels_equal_full(clf, test)
    settled = np.any(part != full, axis=0)
    assert settled.mean() > 0.3  # pixels do leave early...
    assert not settled.all()  # ...and the unsure ones walk every tree, exactly
    assert np.array_equal(part[:, ~settled], full[:, ~settled])


@pytest.mark.parametrize("sure_at", [0.6, 0.75, 0.95])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("kw", [{}, {"min_samples_leaf": 7}], ids=["pure", "impure"])
def test_sure_at_keeps_the_sure_test_exact(sure_at, n_classes, kw):
    x, y = _data(n_classes, seed=7)
    clf = RandomForestClassifier(n_estimators=50, random_state=7, n_jobs=1, **kw).fit(x, y)
    test = _pixels(x.shape[1], seed=7)
    test[:, :1000] = x[:1000].T
    full = forest_kernel.forest_proba(clf, test)
    part = forest_kernel.forest_proba(clf, test, labels_only=True, sure_at=sure_at)
    assert np.array_equal(_labels(part), _labels(full))
    sure = full.astype(np.float32).max(axis=0) >= sure_at
    assert np.array_equal(part.astype(np.float32).max(axis=0) >= sure_at, sure)
    assert 0 < sure.sum() < sure.size
    assert np.any(part != full)  # sure and unsure pixels still leave early
    plain = forest_kernel.forest_proba(clf, test, labels_only=True)
    assert np.all(plain <= part)  # the sure test keeps pixels in the forest longer


def test_ties_are_broken_as_the_full_forest_breaks_them():
    x, y = _data(2, noise=3.0, seed=4)  # noisy: trees disagree, an even forest ties
    clf = RandomForestClassifier(n_estimators=4, random_state=4, n_jobs=1).fit(x, y)
    test = _pixels(x.shape[1], seed=4)
    full, _ = _settled_labels_equal_full(clf, test)
    assert np.any(full[0] == full[1])  # exact ties exist


@pytest.mark.parametrize("n_pixels", [0, 1, 7, 63, 64, 65, 130])
def test_pixel_counts_around_the_group_size(n_pixels):
    x, y = _data(4, seed=2)
    clf = RandomForestClassifier(n_estimators=9, random_state=2, n_jobs=1).fit(x, y)
    _settled_labels_equal_full(clf, _pixels(x.shape[1], n=n_pixels, seed=n_pixels))


@pytest.mark.parametrize("n_trees", [1, 2, 3])
def test_tiny_forests(n_trees):
    x, y = _data(3, seed=6)
    clf = ExtraTreesClassifier(n_estimators=n_trees, random_state=6, n_jobs=1).fit(x, y)
    _settled_labels_equal_full(clf, _pixels(x.shape[1], n=300, seed=6))


@pytest.mark.parametrize("where", [0, 63, 64, 2999])
def test_non_finite_features_are_handed_to_scikit_learn(where):
    x, y = _data(2)
    clf = RandomForestClassifier(n_estimators=4, random_state=0).fit(x, y)
    test = _pixels(x.shape[1])
    test[5, where] = np.nan
    assert forest_kernel.forest_proba(clf, test, labels_only=True) is None


def test_segment_takes_the_labels_only_walk_and_matches_predict_proba(monkeypatch):
    rng = np.random.default_rng(0)
    image = rng.normal(0.3, 0.05, (96, 112)).astype(np.float32)
    image[20:60, 30:80] += 0.4
    image[70:90, 10:40] += 0.2
    scribbles = np.zeros(image.shape, np.uint8)
    scribbles[5:8, 5:100] = 1
    scribbles[35:40, 40:70] = 2
    scribbles[78:82, 15:35] = 3
    model = convpaint.ConvpaintModel("raw", progress=False, workers=1).train(image, scribbles)
    calls = []
    walk = forest_kernel.forest_proba

    def spy(clf, x, labels_only=False, sure_at=0.0):
        calls.append(labels_only)
        return walk(clf, x, labels_only, sure_at)

    monkeypatch.setattr(forest_kernel, "forest_proba", spy)
    labels = model.segment(image)
    assert True in calls  # the refined pixels went through the labels-only walk
    calls.clear()
    proba = model.predict_proba(image)
    assert calls and not any(calls)  # probabilities never do
    assert np.array_equal(labels, model.classes_[proba.argmax(axis=0)])
