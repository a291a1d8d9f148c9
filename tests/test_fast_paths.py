"""The fast paths give the numbers of the plain ones, bit for bit.

- FeatureMaps.at (features upsampled only at chosen pixels) == dense()[:, rows, cols];
- the compiled forest kernel == scikit-learn's predict_proba (mean of the trees).
"""

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

import convpaint
from convpaint import forest_kernel, jit
from convpaint.classifier import _forest_proba, predict_proba_features
from convpaint.feature_maps import FeatureMaps, Level


def _require_numba():
    if not jit.enabled():
        pytest.skip("numba is not installed (or CONVPAINT_NUMBA=0)")


def _maps(rng, shape=(37, 45), halo=8):
    """Levels as the pipeline makes them: factors 1, 2, 4 over a block with a halo."""
    block = (shape[0] + 2 * halo, shape[1] + 2 * halo)
    levels = [
        Level(
            rng.normal(size=(3, block[0] // k + 2, block[1] // k + 2)).astype(np.float32), k, halo
        )
        for k in (1, 2, 4)
    ]
    return FeatureMaps(levels, shape)


@pytest.mark.parametrize("n_pixels", [1, 40, 900, 1665], ids=["one", "few", "many", "all"])
def test_feature_maps_at_equals_dense(n_pixels):
    rng = np.random.default_rng(n_pixels)
    maps = _maps(rng)
    dense = maps.dense()
    assert dense.shape == maps.shape == (9, 37, 45)
    flat = rng.choice(37 * 45, n_pixels, replace=False)
    rows, cols = np.unravel_index(flat, (37, 45))
    assert np.array_equal(maps.at(rows, cols), dense[:, rows, cols])
    # what a cache stores: the halo dropped, the same values
    compact = maps.compact()
    assert compact.nbytes < maps.nbytes
    assert np.array_equal(compact.dense(), dense)
    assert np.array_equal(compact.at(rows, cols), dense[:, rows, cols])


@pytest.mark.parametrize("name", ["ilastik", "vgg16"])
def test_pipeline_maps_equal_dense_features(name):
    opts = {"weights": "random"} if name == "vgg16" else {}
    if name not in convpaint.list_extractors():
        pytest.skip(f"{name} not installed")
    model = convpaint.ConvpaintModel(name, **opts)
    pipe = model.pipeline
    block = np.random.default_rng(0).random((1, 2 * pipe.halo + 52, 2 * pipe.halo + 36))
    block = block.astype(np.float32)
    maps = pipe.block_maps(block)
    dense = pipe.block_features(block)
    rows, cols = np.mgrid[0:52:3, 1:36:5]
    assert np.array_equal(maps.at(rows, cols), dense[:, rows.ravel(), cols.ravel()])


def _forest(cls, n_classes, seed=0, **kw):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3000, 12)).astype(np.float32)
    x[:, 3] = np.round(x[:, 3] * 2)  # ties: thresholds halfway between float32 values
    y = (x[:, 0] * 2 + x[:, 1] > 0).astype(int) + (x[:, 3] > 0) * (n_classes - 2)
    y = np.array([3, 7, 11])[y] if n_classes == 3 else y
    clf = cls(n_estimators=25, random_state=seed, n_jobs=1, **kw).fit(x, y)
    test = rng.normal(size=(5000, 12)).astype(np.float32)
    test[:, 3] = np.round(test[:, 3] * 2)
    test[:500] = x[:500]  # exactly on training values
    return clf, test


@pytest.mark.parametrize(
    "cls,n_classes,kw",
    [
        (RandomForestClassifier, 2, {}),
        (RandomForestClassifier, 3, {}),
        (ExtraTreesClassifier, 3, {}),
        (RandomForestClassifier, 2, {"max_depth": 3}),
        (RandomForestClassifier, 2, {"min_samples_split": 10**6}),  # every tree a single leaf
    ],
    ids=["rf-2", "rf-3", "extra-trees", "shallow", "stumps"],
)
def test_forest_kernel_equals_scikit_learn(cls, n_classes, kw):
    _require_numba()
    clf, test = _forest(cls, n_classes, **kw)
    fast = forest_kernel.forest_proba(clf, np.ascontiguousarray(test.T))
    assert fast is not None
    assert np.array_equal(fast.T, _forest_proba(clf, test))
    np.testing.assert_allclose(fast.T, clf.predict_proba(test), rtol=0, atol=1e-12)
    packed = forest_kernel.pack_forest(clf)
    assert packed.roots.size == len(clf.estimators_)


def test_forest_kernel_refits_and_non_finite_features():
    _require_numba()
    clf, test = _forest(RandomForestClassifier, 2)
    before = forest_kernel.forest_proba(clf, test.T)
    clf.set_params(n_estimators=7).fit(test[:2000], (test[:2000, 0] > 0.3).astype(int))
    after = forest_kernel.forest_proba(clf, test.T)  # packed again for the new trees
    assert not np.array_equal(before, after)
    assert np.array_equal(after.T, _forest_proba(clf, test))
    test[17, 1] = np.nan  # the kernel declines; scikit-learn routes NaN by its own rules
    assert forest_kernel.forest_proba(clf, test.T) is None
    np.testing.assert_array_equal(
        predict_proba_features(clf, np.ascontiguousarray(test.T)).T,
        clf.predict_proba(test).astype(np.float32),
    )


def test_segmentation_with_and_without_the_kernels_is_identical(blobs, monkeypatch):
    from convpaint import feature_maps

    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("ilastik", n_estimators=20, tile_size=48).train(
        image, scribbles
    )
    fast = model.predict_proba(image)
    fast_labels = model.segment(image)  # the labels-only walk for the refined pixels
    monkeypatch.setattr(forest_kernel, "forest_proba", lambda clf, x, *args: None)
    monkeypatch.setattr(feature_maps, "_gather_kernel", lambda: None)
    model.feature_cache.clear()
    assert np.array_equal(model.predict_proba(image), fast)
    assert np.array_equal(model.segment(image), fast_labels)
