"""End to end through ``convpaint.ConvpaintModel`` (random weights)."""

import numpy as np
import pytest

import convpaint

pytestmark = pytest.mark.filterwarnings("ignore:.*random:UserWarning")


def blob_image(shape, rgb=False):
    """A bright rectangle on a noisy background, and two scribbles."""
    rng = np.random.default_rng(0)
    ny, nx = shape
    image = rng.normal(0.2, 0.05, shape).astype(np.float32)
    image[ny // 4 : 3 * ny // 4, nx // 4 : 3 * nx // 4] += 0.6
    ann = np.zeros(shape, np.uint8)
    ann[2:8, 2 : nx - 2] = 1
    ann[ny // 2 - 3 : ny // 2 + 3, nx // 3 : 2 * nx // 3] = 2
    if rgb:
        image = np.stack([image, 0.8 * image, 0.5 * image], axis=-1)
    return image, ann


def check_segmentation(labels, shape):
    ny, nx = shape
    assert labels.shape == shape
    assert (labels[ny // 2 - 5 : ny // 2 + 5, nx // 2 - 5 : nx // 2 + 5] == 2).mean() > 0.9
    assert (labels[:4, :4] == 1).all() and (labels[-4:, -4:] == 1).all()


def test_gray_train_segment():
    image, ann = blob_image((100, 140))
    model = convpaint.ConvpaintModel("dinov2", weights="random").train(image, ann)
    check_segmentation(model.segment(image), (100, 140))
    assert model.predict_proba(image).shape == (2, 100, 140)


def test_rgb_and_save_load(tmp_path):
    image, ann = blob_image((257, 255), rgb=True)
    model = convpaint.ConvpaintModel("dinov2", weights="random", device="cpu").train(image, ann)
    labels = model.segment(image)
    check_segmentation(labels, (257, 255))
    again = convpaint.load_model(model.save(tmp_path / "dino.npz"))
    assert again.extractor.get_options() == {"size": "small", "weights": "random"}
    assert again.extractor.device == "auto"  # the device is not stored: loads on any machine
    np.testing.assert_array_equal(again.segment(image), labels)


def test_z_stack():
    plane, ann2d = blob_image((100, 140))
    stack = np.stack([plane, plane[::-1], plane])
    ann = np.zeros(stack.shape, np.uint8)
    ann[0] = ann2d
    model = convpaint.ConvpaintModel("dinov2", weights="random").train(stack, ann, axes="ZYX")
    labels = model.segment(stack, axes="ZYX")
    assert labels.shape == stack.shape
    check_segmentation(labels[2], (100, 140))


def test_vgg16_plus_dinov2():
    if "vgg16" not in convpaint.list_extractors():
        pytest.skip("convpaint-vgg is not installed")
    image, ann = blob_image((100, 140))
    opts = {"vgg16": {"weights": "random"}, "dinov2": {"weights": "random"}}
    model = convpaint.ConvpaintModel("vgg16+dinov2", **opts).train(image, ann)
    check_segmentation(model.segment(image), (100, 140))
    assert model.n_features_ > 384
