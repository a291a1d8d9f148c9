import numpy as np
import pytest
from helpers import disk_image

import convpaint
from convpaint_napari.feature_view import feature_rgb, pca_rgb, show_features


def test_feature_rgb_untrained_plane_range_and_determinism():
    model = convpaint.ConvpaintModel("ilastik")  # untrained: features need no training
    image = disk_image((48, 56))
    rgb = feature_rgb(model, image)
    assert rgb.shape == (48, 56, 3) and rgb.dtype == np.float32
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert all(rgb[..., c].std() > 0.05 for c in range(3))  # three informative channels
    np.testing.assert_array_equal(rgb, feature_rgb(model, image.copy()))
    # the disk (centre) and the background (corner) get different colours
    assert np.abs(rgb[24, 28] - rgb[2, 2]).sum() > 0.3


def test_feature_rgb_of_a_plane_is_that_plane():
    model = convpaint.ConvpaintModel("ilastik")
    stack = np.stack([disk_image((40, 40), seed=s) for s in range(3)])
    stack[2] = stack[2, ::-1, ::-1].copy()
    np.testing.assert_array_equal(
        feature_rgb(model, stack, "ZYX", plane=2), feature_rgb(model, stack[2])
    )
    np.testing.assert_array_equal(
        feature_rgb(model, stack, "ZYX", plane=(1, slice(None), slice(None))),
        feature_rgb(model, stack[1]),
    )
    with pytest.raises(IndexError, match="out of range"):
        feature_rgb(model, stack, "ZYX", plane=5)
    with pytest.raises(ValueError, match="one index per T/Z axis"):
        feature_rgb(model, stack, "ZYX", plane=(0, 1))


def test_volumetric_model_uses_the_stack():
    model = convpaint.ConvpaintModel("ilastik", volumetric=True)
    rng = np.random.default_rng(1)
    stack = rng.random((4, 32, 32)).astype(np.float32)
    rgb = feature_rgb(model, stack, "ZYX", plane=2)
    np.testing.assert_array_equal(rgb, pca_rgb(model.compute_features(stack, "ZYX")[:, 2]))
    assert not np.array_equal(rgb, feature_rgb(model, stack[2]))  # 3-D context matters


def test_pca_rgb_recovers_the_main_direction_and_pads():
    rng = np.random.default_rng(0)
    signal = np.linspace(0, 1, 400).reshape(20, 20)
    features = np.stack([signal + 0.01 * rng.normal(size=(20, 20)) for _ in range(4)])
    rgb = pca_rgb(features)
    assert np.corrcoef(rgb[..., 0].ravel(), signal.ravel())[0, 1] > 0.99  # sign fixed
    two = pca_rgb(features[:2])
    assert two.shape == (20, 20, 3) and not two[..., 2].any()
    with pytest.raises(ValueError, match="n_features"):
        pca_rgb(features[0])
    with pytest.raises(TypeError, match="ConvpaintModel"):
        feature_rgb(None, signal)


def test_show_features_layer(viewer):
    stack = np.stack([disk_image((40, 40), seed=s) for s in range(3)])
    layer_in = viewer.add_image(stack, name="stack", scale=(1, 0.5, 0.5))
    viewer.dims.set_current_step(0, 1)
    model = convpaint.ConvpaintModel("ilastik")
    layer = show_features(viewer, model, layer_in)
    assert layer.name == "features (ilastik)" and layer.rgb
    assert layer.data.shape == (40, 40, 3)
    np.testing.assert_array_equal(layer.data, feature_rgb(model, stack[1]))
    assert list(layer.scale) == [0.5, 0.5]
    viewer.dims.set_current_step(0, 2)
    assert show_features(viewer, model, layer_in) is layer  # updated in place
    np.testing.assert_array_equal(layer.data, feature_rgb(model, stack[2]))
