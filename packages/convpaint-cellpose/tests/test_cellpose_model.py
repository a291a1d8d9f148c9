"""End to end through ``convpaint.ConvpaintModel`` (random weights).

Image sizes are odd and chosen so that image + halo fits one 256-px cellpose
window: each pass is a single ViT-L forward (~8 s on 2 quiet CPU cores), but a test
makes several (train, segment, save/load), so all are ``slow``: run with ``pytest -m slow``.
"""

import numpy as np
import pytest

import convpaint

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*random:UserWarning")]


def blob_image(shape, rgb=False):
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


def check(model, image, ann, axes=None):
    labels = model.segment(image, axes=axes)
    assert labels.shape == ann.shape
    scribbled = ann > 0
    assert (labels[scribbled] == ann[scribbled]).mean() > 0.95
    return labels


def test_gray_odd_size():
    image, ann = blob_image((101, 119))
    model = convpaint.ConvpaintModel("cellpose", weights="random").train(image, ann)
    check(model, image, ann)
    assert model.n_features_ == 259


def test_rgb_odd_size_outputs_only(tmp_path):
    image, ann = blob_image((99, 121), rgb=True)
    model = convpaint.ConvpaintModel("cellpose", weights="random", features="output", device="cpu")
    labels = check(model.train(image, ann), image, ann)
    again = convpaint.load_model(model.save(tmp_path / "cp.npz"))
    assert again.extractor.get_options() == model.extractor.get_options()
    assert again.extractor.device == "auto"  # the device is not stored: loads on any machine
    np.testing.assert_array_equal(again.segment(image), labels)


def test_z_stack():
    plane, ann2d = blob_image((101, 119))
    stack = np.stack([plane, plane[::-1]])
    ann = np.zeros(stack.shape, np.uint8)
    ann[0] = ann2d
    model = convpaint.ConvpaintModel("cellpose", weights="random").train(stack, ann, axes="ZYX")
    assert check(model, stack, ann, axes="ZYX").shape == stack.shape
