"""Invariants of the whole pipeline: tiled == untiled, seeds, shapes round-trip."""

import numpy as np
import pytest
from extractor_checks import require

import convpaint

EXTRACTORS = [
    ("raw", {}),
    ("sobel", {}),
    ("ilastik", {}),
    ("vgg16", {"weights": "random"}),
    ("ilastik+vgg16", {"vgg16": {"weights": "random"}}),
]


@pytest.mark.parametrize("name, options", EXTRACTORS, ids=[e[0] for e in EXTRACTORS])
def test_tiled_equals_untiled(name, options, blobs):
    for part in name.split("+"):
        require(part)
    image, _, scribbles = blobs
    kwargs = dict(extractor=name, n_estimators=10, **options)
    small = convpaint.ConvpaintModel(tile_size=32, **kwargs).train(image, scribbles)
    big = convpaint.ConvpaintModel(tile_size=4096, **kwargs).train(image, scribbles)
    f_small = small.compute_features(image)
    f_big = big.compute_features(image)
    if small.extractor.deterministic:
        assert np.array_equal(f_small, f_big)
        assert np.array_equal(small.predict_proba(image), big.predict_proba(image))
    else:  # declared not bit-exact (e.g. oneDNN convolutions pick size-dependent kernels)
        np.testing.assert_allclose(f_small, f_big, rtol=0, atol=1e-5)
        assert np.mean(small.segment(image) == big.segment(image)) > 0.999


def test_same_seed_same_result_other_seed_differs(blobs):
    image, _, scribbles = blobs
    a = convpaint.ConvpaintModel("sobel", seed=3).train(image, scribbles).predict_proba(image)
    b = convpaint.ConvpaintModel("sobel", seed=3).train(image, scribbles).predict_proba(image)
    c = convpaint.ConvpaintModel("sobel", seed=4).train(image, scribbles).predict_proba(image)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_segments_blobs_well(blobs):
    require("ilastik")
    image, truth, scribbles = blobs
    labels = convpaint.ConvpaintModel("ilastik").train(image, scribbles).segment(image)
    assert labels.shape == truth.shape and labels.dtype == np.uint8
    assert np.mean(labels == truth) > 0.97


def test_user_label_values_are_kept(blobs):
    image, _, scribbles = blobs
    ann = np.select([scribbles == 1, scribbles == 2], [3, 7], 0)
    model = convpaint.ConvpaintModel("sobel").train(image, ann)
    assert model.classes_.tolist() == [3, 7]
    assert set(np.unique(model.segment(image))) <= {3, 7}


@pytest.mark.parametrize(
    "shape, axes, spatial",
    [
        ((41, 53), None, (41, 53)),
        ((41, 53, 3), None, (41, 53)),
        ((41, 53, 4), None, (41, 53)),
        ((2, 41, 53), "CYX", (41, 53)),
        ((41, 53, 5), "YXC", (41, 53)),
        ((4, 41, 53), "ZYX", (4, 41, 53)),
        ((3, 41, 53), "TYX", (3, 41, 53)),
        ((2, 3, 41, 53), "TZYX", (2, 3, 41, 53)),
        ((2, 2, 3, 41, 53), "TCZYX", (2, 3, 41, 53)),
        ((41, 3, 53), "YZX", (41, 3, 53)),
    ],
)
@pytest.mark.parametrize("name", ["sobel", "vgg16"])
def test_shapes_round_trip(shape, axes, spatial, name):
    require(name)
    rng = np.random.default_rng(0)
    image = rng.random(shape, dtype=np.float32)
    spatial_axes = (axes or "YXC").replace("C", "")
    grid = np.indices(spatial)
    y, x = grid[spatial_axes.index("Y")], grid[spatial_axes.index("X")]
    ann = np.zeros(spatial, np.uint8)
    ann[(y < 5) & (x < 10)] = 1
    ann[(y >= 30) & (y < 35) & (x >= 40)] = 2
    opts = {"weights": "random"} if name == "vgg16" else {}
    model = convpaint.ConvpaintModel(name, n_estimators=5, **opts).train(image, ann, axes=axes)
    labels = model.segment(image, axes=axes)
    assert labels.shape == spatial
    proba = model.predict_proba(image, axes=axes)
    assert proba.shape == (2, *spatial)
    np.testing.assert_allclose(proba.sum(axis=0), 1, rtol=1e-5)


def test_scribbles_on_some_planes_predict_all_planes():
    rng = np.random.default_rng(2)
    stack = rng.normal(0.2, 0.05, (5, 40, 40)).astype(np.float32)
    stack[:, 10:30, 10:30] += 0.6
    ann = np.zeros(stack.shape, np.uint8)
    ann[1, 2:5, 2:38] = 1
    ann[3, 15:25, 18:22] = 2
    labels = (
        convpaint.ConvpaintModel("sobel").train(stack, ann, axes="ZYX").segment(stack, axes="ZYX")
    )
    assert (labels[:, 15:25, 15:25] == 2).all() and (labels[:, :5, :] == 1).mean() > 0.95


def test_volumetric_mode_with_3d_filters():
    require("ilastik")
    rng = np.random.default_rng(3)
    vol = rng.normal(0.2, 0.05, (12, 40, 40)).astype(np.float32)
    vol[3:9, 10:30, 10:30] += 0.6
    ann = np.zeros(vol.shape, np.uint8)
    ann[6, 1:4, 1:39] = 1
    ann[1, 15:25, 15:25] = 1  # background above the object
    ann[6, 18:22, 15:25] = 2
    truth = np.ones(vol.shape, np.uint8)
    truth[3:9, 10:30, 10:30] = 2
    model = convpaint.ConvpaintModel("ilastik", volumetric=True, sigmas=[1.0, 1.6])
    labels = model.train(vol, ann, axes="ZYX").segment(vol, axes="ZYX")
    assert labels.shape == vol.shape
    assert model.n_features_ == 2 * 10  # 3-D: 10 features per sigma (3 eigenvalues per tensor)
    assert np.mean(labels == truth) > 0.97


def test_training_on_several_images(blobs):
    image, truth, scribbles = blobs
    only_bg = np.where(scribbles == 1, 1, 0)
    only_fg = np.where(scribbles == 2, 2, 0)
    model = convpaint.ConvpaintModel("sobel").train([image, image[::-1]], [only_bg, only_fg[::-1]])
    assert model.classes_.tolist() == [1, 2]
    assert np.mean(model.segment(image) == truth) > 0.9


def test_any_sklearn_classifier():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    image = rng.random((30, 30)).astype(np.float32)
    ann = np.zeros((30, 30), np.uint8)
    ann[:3] = 1
    ann[-3:] = 2
    model = convpaint.ConvpaintModel("raw", classifier=LogisticRegression()).train(image, ann)
    assert model.segment(image).shape == (30, 30)


def test_training_axes_are_remembered(tmp_path):
    rng = np.random.default_rng(5)
    stack = rng.random((3, 30, 30)).astype(np.float32)
    ann = np.zeros(stack.shape, np.uint8)
    ann[0, :3] = 1
    ann[2, -3:] = 2
    model = convpaint.ConvpaintModel("raw", n_estimators=5).train(stack, ann, axes="ZYX")
    loaded = convpaint.load_model(model.save(tmp_path / "m.npz"))
    assert loaded.segment(stack).shape == (3, 30, 30)  # no axes needed: ZYX as in training


def test_tiled_close_to_untiled_for_deeper_vgg_layers(blobs):
    """oneDNN's deeper convolutions are not bit-exact across input sizes: bounded jitter only."""
    require("vgg16")
    image, _, scribbles = blobs
    kwargs = dict(extractor="vgg16", weights="random", layers=[0, 2, 5], n_estimators=10)
    small = convpaint.ConvpaintModel(tile_size=32, **kwargs)
    big = convpaint.ConvpaintModel(tile_size=4096, **kwargs)
    assert not small.extractor.deterministic
    np.testing.assert_allclose(
        small.compute_features(image), big.compute_features(image), rtol=0, atol=1e-5
    )
