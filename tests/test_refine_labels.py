"""Labels without probabilities: ``refine_labels`` == ``refine_plane(...).argmax(0)`` and
``segment`` == the most probable class of ``predict_proba``, on planes, volumes, tiles,
regions and lazy inputs."""

import dask.array as da
import numpy as np
import pytest

import convpaint
from convpaint.refine import refine, refine_labels, refine_plane, refine_volume_labels


def _classifier(n_classes, seed):
    """Probabilities from a fixed random linear map of the features (softmax), some of
    them flat (exact ties between classes)."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 2, (n_classes, 6)).astype(np.float32)

    def classify(x):
        z = weights @ x
        z[:, x[0] > 1.5] = 0.0  # ties: every class equally likely
        e = np.exp(z - z.max(axis=0))
        return (e / e.sum(axis=0)).astype(np.float32)

    return classify


@pytest.mark.parametrize("n_classes", [2, 3, 7])
@pytest.mark.parametrize("origin", [(0, 0), (5, 3), (2, 7)])
@pytest.mark.parametrize("stride", [2, 4])
def test_labels_equal_the_argmax_of_the_probabilities(n_classes, origin, stride):
    rng = np.random.default_rng(n_classes + stride)
    feats = rng.normal(size=(6, 40, 52)).astype(np.float32)
    feats[:, 10:30, 10:40] = feats[:, 10:11, 10:11]  # flat areas: sure cells
    classify = _classifier(n_classes, seed=stride)
    proba = refine_plane(feats, classify, origin, 8, stride, 0.6)
    labels = refine_labels(feats, classify, classify, origin, 8, stride, 0.6)
    assert labels.shape == proba.shape[1:]
    assert np.array_equal(labels, proba.argmax(axis=0))


def test_volume_labels_equal_the_argmax_of_the_probabilities():
    rng = np.random.default_rng(3)
    feats = rng.normal(size=(6, 3, 30, 34)).astype(np.float32)
    classify = _classifier(3, seed=3)
    proba = refine(feats, classify, (4, 4), 8, 4, 0.6)
    labels = refine_volume_labels(feats, classify, classify, (4, 4), 8, 4, 0.6)
    assert np.array_equal(labels, proba.argmax(axis=0))


def test_a_threshold_at_or_below_one_half_is_refused():
    feats = np.zeros((6, 20, 20), np.float32)
    classify = _classifier(2, seed=0)
    with pytest.raises(ValueError, match="threshold"):
        refine_labels(feats, classify, classify, (0, 0), 8, 4, 0.5)


@pytest.mark.parametrize("tile_size", [None, 40])
def test_segment_equals_the_argmax_of_predict_proba(tile_size, blobs):
    image, _, scribbles = blobs
    kw = {"tile_size": tile_size} if tile_size else {}
    model = convpaint.ConvpaintModel("ilastik", n_estimators=30, progress=False, **kw)
    model.train(image, scribbles)
    proba = model.predict_proba(image)
    labels = model.segment(image)
    assert labels.dtype == model.segment(image[:20, :20]).dtype
    assert np.array_equal(labels, model.classes_[proba.argmax(axis=0)])
    region = (slice(7, 51), slice(13, 60))
    assert np.array_equal(model.segment(image, region=region), labels[region])
    lazy = model.segment(da.from_array(image, chunks=23))
    assert np.array_equal(np.asarray(lazy), labels)


def test_volume_segment_equals_the_argmax_of_predict_proba():
    rng = np.random.default_rng(5)
    stack = rng.normal(0.3, 0.05, (5, 36, 40)).astype(np.float32)
    stack[:, 10:26, 12:30] += 0.4
    ann = np.zeros(stack.shape, np.uint8)
    ann[2, 2:4, 2:38] = 1
    ann[2, 15:19, 16:26] = 2
    for volumetric in (False, True):
        model = convpaint.ConvpaintModel(
            "ilastik", n_estimators=20, volumetric=volumetric, progress=False
        ).train(stack, ann, "ZYX")
        proba = model.predict_proba(stack, "ZYX")
        assert np.array_equal(model.segment(stack, "ZYX"), model.classes_[proba.argmax(0)])
