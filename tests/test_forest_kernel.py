"""The compiled forest walk == scikit-learn's mean of ``tree.predict_proba``, bit for bit.

Random forests and ExtraTrees with 2, 4 and 11 classes, deep trees (the early exit of a
block whose pixels all sit on leaves), stumps, impure leaves (the table of distinct
class fractions), pixel counts around the block size, the non-finite fallback and
several threads walking one forest at once.
"""

import threading

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from convpaint import forest_kernel, jit
from convpaint.classifier import _forest_proba

pytestmark = pytest.mark.skipif(not jit.enabled(), reason="numba off or not installed")


def _data(n_classes, n=2500, n_features=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features)).astype(np.float32)
    x[:, 2] = np.round(x[:, 2] * 3)  # ties: thresholds halfway between float32 values
    score = x[:, 0] + 0.5 * x[:, 1] ** 2 + 0.3 * x[:, 2] + rng.normal(0, 0.4, n)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    return x, y


def _test_pixels(x, n=3001, seed=1):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, x.shape[1])).astype(np.float32)
    t[:, 2] = np.round(t[:, 2] * 3)
    t[: n // 4] = x[: n // 4]  # exactly on training values
    return t


def _exact(clf, test):
    fast = forest_kernel.forest_proba(clf, np.ascontiguousarray(test.T))
    assert fast is not None
    assert fast.dtype == np.float64 and fast.shape == (clf.n_classes_, test.shape[0])
    assert np.array_equal(fast.T, _forest_proba(clf, test))
    np.testing.assert_allclose(fast.T, clf.predict_proba(test), rtol=0, atol=1e-12)
    return fast


@pytest.mark.parametrize("n_classes", [2, 4, 11])
@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesClassifier])
def test_deep_forests_equal_scikit_learn(cls, n_classes):
    x, y = _data(n_classes)
    clf = cls(n_estimators=20, random_state=0, n_jobs=1).fit(x, y)
    packed = forest_kernel.pack_forest(clf)
    assert packed.depth.max() >= 8  # deep enough for blocks to leave trees early
    _exact(clf, _test_pixels(x))


@pytest.mark.parametrize(
    "kw",
    [
        {"max_depth": 3},
        {"min_samples_leaf": 7},
        {"min_samples_split": 10**6},  # every tree a single leaf: no steps at all
        {"max_depth": 1, "class_weight": "balanced"},
    ],
    ids=["shallow", "impure-leaves", "stumps", "weighted-stumps"],
)
@pytest.mark.parametrize("n_classes", [2, 11])
def test_impure_and_stump_forests_equal_scikit_learn(kw, n_classes):
    x, y = _data(n_classes, seed=3)
    clf = RandomForestClassifier(n_estimators=15, random_state=3, n_jobs=1, **kw).fit(x, y)
    packed = forest_kernel.pack_forest(clf)
    assert packed.value.shape[0] > n_classes  # class fractions other than one-hot
    _exact(clf, _test_pixels(x))


def test_duplicate_samples_with_other_labels_give_impure_leaves():
    x, y = _data(4, n=800)
    x, y = np.concatenate([x, x[:300]]), np.concatenate([y, (y[:300] + 1) % 4])
    clf = ExtraTreesClassifier(n_estimators=10, random_state=0).fit(x, y)
    assert forest_kernel.pack_forest(clf).value.shape[0] > 4
    _exact(clf, _test_pixels(x))


def test_leaf_table_holds_every_leaf_exactly():
    x, y = _data(4, seed=5)
    clf = RandomForestClassifier(n_estimators=8, min_samples_leaf=3, random_state=5).fit(x, y)
    packed = forest_kernel.pack_forest(clf)
    assert np.array_equal(packed.value[:4], np.eye(4))
    assert np.unique(packed.value, axis=0).shape[0] == packed.value.shape[0]  # distinct
    fractions = []
    for est in clf.estimators_:
        tree = est.tree_
        order, _ = forest_kernel.tree_order(tree.children_left, tree.children_right)
        v = tree.value[order, 0, :]
        if forest_kernel._normalised_by_predict():  # scikit-learn < 1.4: weighted counts
            v = v / v.sum(axis=1, keepdims=True)
        fractions.append(v[tree.children_left[order] < 0])
    leaves = packed.threshold == np.inf
    assert np.array_equal(packed.value[packed.leaf[leaves]], np.concatenate(fractions))
    assert packed.leaf.dtype == np.int32 and packed.leaf.max() < packed.value.shape[0]


@pytest.mark.parametrize("n_pixels", [1, 7, 8, 9, 17, 100])
def test_pixel_counts_around_the_block_size(n_pixels):
    x, y = _data(4, seed=2)
    clf = RandomForestClassifier(n_estimators=6, random_state=2).fit(x, y)
    _exact(clf, _test_pixels(x, n=n_pixels, seed=n_pixels))


def test_no_pixels():
    x, y = _data(2)
    clf = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y)
    out = forest_kernel.forest_proba(clf, np.zeros((x.shape[1], 0), np.float32))
    assert out is not None and out.shape == (2, 0)


@pytest.mark.parametrize("where", [0, 8, 2999, 3000])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features_are_handed_to_scikit_learn(where, bad):
    x, y = _data(2)
    clf = RandomForestClassifier(n_estimators=4, random_state=0).fit(x, y)
    test = _test_pixels(x)
    test[where, 5] = bad
    assert forest_kernel.forest_proba(clf, np.ascontiguousarray(test.T)) is None
    test[where, 5] = 0.0
    _exact(clf, test)  # the same forest serves finite features again


def test_threads_walking_one_forest_get_the_serial_numbers():
    x, y = _data(11, seed=4)
    clf = RandomForestClassifier(n_estimators=12, random_state=4).fit(x, y)
    chunks = [np.ascontiguousarray(_test_pixels(x, n=1500, seed=s).T) for s in range(8)]
    serial = [forest_kernel.forest_proba(clf, c) for c in chunks]
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(4)

    def work(i):
        barrier.wait()
        for k in range(i, len(chunks), 4):
            results[k] = forest_kernel.forest_proba(clf, chunks[k])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(results[k], serial[k]) for k in range(len(chunks)))
    assert np.array_equal(serial[0].T, _forest_proba(clf, chunks[0].T))


def test_features_of_other_dtypes_and_layouts():
    x, y = _data(4)
    clf = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    test = _test_pixels(x)
    ref = forest_kernel.forest_proba(clf, np.ascontiguousarray(test.T))
    assert np.array_equal(forest_kernel.forest_proba(clf, test.T), ref)  # not contiguous
    assert np.array_equal(forest_kernel.forest_proba(clf, test.T.astype(np.float64)), ref)
