"""Bad input gets a clear error that names the problem."""

import numpy as np
import pytest

import convpaint


@pytest.fixture
def model_and_data(blobs):
    image, _, scribbles = blobs
    return convpaint.ConvpaintModel("raw", n_estimators=5), image, scribbles


def test_nan_image(model_and_data):
    model, image, scribbles = model_and_data
    image = image.copy()
    image[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.train(image, scribbles)


def test_single_class(model_and_data):
    model, image, scribbles = model_and_data
    with pytest.raises(ValueError, match="single class"):
        model.train(image, (scribbles > 0).astype(np.uint8))


def test_empty_scribbles(model_and_data):
    model, image, scribbles = model_and_data
    with pytest.raises(ValueError, match="empty"):
        model.train(image, np.zeros_like(scribbles))


def test_annotation_shape_mismatch(model_and_data):
    model, image, scribbles = model_and_data
    with pytest.raises(ValueError, match="does not match"):
        model.train(image, scribbles[:-1])


def test_negative_or_fractional_annotations(model_and_data):
    model, image, scribbles = model_and_data
    with pytest.raises(ValueError, match=">= 0"):
        model.train(image, scribbles.astype(int) - 1)
    with pytest.raises(ValueError, match="integer"):
        model.train(image, scribbles * 0.5)


def test_wrong_channel_count(model_and_data):
    model, image, scribbles = model_and_data
    model.train(np.stack([image, image]), scribbles, axes="CYX")
    with pytest.raises(ValueError, match="3 channel.*trained on 2"):
        model.segment(np.stack([image] * 3), axes="CYX")


def test_ambiguous_3d_needs_axes(model_and_data):
    model, image, scribbles = model_and_data
    with pytest.raises(ValueError, match="axes="):
        model.train(np.stack([image] * 5), np.stack([scribbles] * 5))


def test_untrained_and_mismatched_lists(model_and_data):
    model, image, scribbles = model_and_data
    with pytest.raises(RuntimeError, match="not trained"):
        model.segment(image)
    with pytest.raises(ValueError, match="2 images but 1"):
        model.train([image, image], [scribbles])


def test_bad_options():
    with pytest.raises(ValueError, match="normalize"):
        convpaint.ConvpaintModel("raw", normalize="zscore")
    with pytest.raises(ValueError, match="scalings"):
        convpaint.ConvpaintModel("raw", scalings=(0,))
    with pytest.raises(ValueError, match="3-D"):
        convpaint.ConvpaintModel("sobel", volumetric=True)


def test_non_numeric_image(model_and_data):
    model, _, scribbles = model_and_data
    with pytest.raises(TypeError, match="not numeric"):
        model.train(np.full(scribbles.shape, "a"), scribbles)
