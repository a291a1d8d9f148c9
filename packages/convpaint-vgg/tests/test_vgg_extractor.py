from __future__ import annotations

import json

import numpy as np
import pytest
from vgg_testutils import random_extractor, random_plane

import convpaint
from convpaint_vgg import VGG16Features


def test_class_attributes():
    assert VGG16Features.name == "vgg16"
    assert VGG16Features.n_input_channels == 3
    assert VGG16Features.rgb is True
    assert VGG16Features.patch_size == 1
    assert VGG16Features.default_scalings == (1, 2, 4)
    assert issubclass(VGG16Features, convpaint.FeatureExtractor)


def test_defaults():
    ex = random_extractor()
    assert ex.layers == [0]
    assert (ex.padding, ex.alignment) == (1, 1)
    assert (ex.n_features, ex.n_parameters) == (64, 1792)
    assert ex.deterministic
    assert not random_extractor(layers=[0, 2]).deterministic  # deeper convs: ~1e-6 tiling jitter
    assert ex.get_options() == {"layers": [0], "weights": "random"}


@pytest.mark.parametrize(
    ("layers", "n_features", "padding", "alignment"),
    [([0], 64, 1, 1), ([0, 2, 5], 256, 6, 2), ([10], 256, 16, 4), ([2, 7], 192, 8, 2)],
)
def test_shapes_odd_size(layers, n_features, padding, alignment):
    ex = random_extractor(layers=layers)
    out = ex.extract(random_plane(37, 53))
    assert out.shape == (n_features, 37, 53)
    assert out.dtype == np.float32  # any layout: a single layer comes channels-last, uncopied
    assert np.isfinite(out).all()
    assert (ex.padding, ex.alignment) == (padding, alignment)


def test_tiny_plane():
    assert random_extractor(layers=[0, 5]).extract(random_plane(1, 3)).shape == (192, 1, 3)


def _crops(size, padding, alignment, n, rng):
    height, width = size
    for _ in range(n):
        y0 = alignment * int(
            rng.integers(-(-padding // alignment), (height - padding) // alignment)
        )
        x0 = alignment * int(rng.integers(-(-padding // alignment), (width - padding) // alignment))
        y1 = int(rng.integers(y0 + 1, height - padding + 1))
        x1 = int(rng.integers(x0 + 1, width - padding + 1))
        yield y0, y1, x0, x1


def _max_tiling_error(ex, plane, halo, n=6, seed=0):
    full = ex.extract(plane)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for y0, y1, x0, x1 in _crops(plane.shape[1:], halo, ex.alignment, n, rng):
        crop = plane[:, y0 - halo : y1 + halo, x0 - halo : x1 + halo]
        part = ex.extract(crop)[:, halo : halo + y1 - y0, halo : halo + x1 - x0]
        worst = max(worst, float(np.abs(part - full[:, y0:y1, x0:x1]).max()))
    return worst


def test_tiling_bit_exact_default_layer():
    # channels-last oneDNN convolution of the 3-channel input is position independent
    ex = random_extractor()
    assert _max_tiling_error(ex, random_plane(96, 112), ex.padding, n=10) == 0.0


@pytest.mark.parametrize(
    ("layers", "n"), [([2], 6), ([0, 2], 6), ([0, 2, 5], 6), ([10], 4), ([17], 2)]
)
def test_tiling_deeper_layers(layers, n):
    # oneDNN's 64+-channel convolutions are not position independent at the ulp
    # level: observed differences up to ~1e-6 on features of order 1 (see README)
    ex = random_extractor(layers=layers)
    size = (48 + 4 * ex.padding, 52 + 4 * ex.padding)
    assert _max_tiling_error(ex, random_plane(*size), ex.padding, n=n) <= 1e-5


@pytest.mark.parametrize("layers", [[0], [5], [10]])
def test_padding_is_minimal(layers):
    # the next smaller aligned halo is not enough: padding is not overestimated
    ex = random_extractor(layers=layers)
    smaller = ex.padding - ex.alignment
    size = (40 + 4 * ex.padding, 44 + 4 * ex.padding)
    assert _max_tiling_error(ex, random_plane(*size), smaller, n=3) > 1e-3


def test_random_weights_warn_and_are_deterministic():
    with pytest.warns(UserWarning, match="random"):
        a = VGG16Features(weights="random", layers=[0, 5])
    b = random_extractor(layers=[0, 5])
    plane = random_plane(30, 31, seed=3)
    assert np.array_equal(a.extract(plane), b.extract(plane))
    assert np.array_equal(a.extract(plane), a.extract(plane.copy()))


def test_features_are_pre_relu_and_layers_independent():
    plane = random_plane(32, 32)
    both = random_extractor(layers=[0, 2]).extract(plane)
    assert (both[:64] < 0).any() and (both[64:] < 0).any()
    # the ReLU between conv 0 and conv 2 must not clobber the kept layer-0 output
    assert np.array_equal(both[:64], random_extractor(layers=[0]).extract(plane))
    assert np.array_equal(both[64:], random_extractor(layers=[2]).extract(plane))


def test_bad_plane_shape():
    ex = random_extractor()
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        ex.extract(np.zeros((1, 8, 8), np.float32))
    with pytest.raises(ValueError):
        ex.extract(np.zeros((8, 8), np.float32))


def test_bad_layer_in_constructor():
    with pytest.raises(ValueError, match="valid conv layers: 0, 2, 5"):
        random_extractor(layers=[1])


def test_bad_device():
    with pytest.raises(ValueError, match="invalid device"):
        random_extractor(device="gpu0")


def test_cuda_unavailable_is_clear():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="CUDA is not available"):
        random_extractor(device="cuda")
    ex = random_extractor(device="auto")
    assert ex._device.type == "cpu" and ex.deterministic
    assert "device" not in ex.get_options()  # where, not what: a loaded model uses "auto"


def test_bad_weights_type():
    with pytest.raises(TypeError):
        VGG16Features(weights=3)


def test_options_round_trip():
    ex = random_extractor(layers=[5, 0], device="cpu")
    options = json.loads(json.dumps(ex.get_options()))
    assert options == {"layers": [0, 5], "weights": "random"}
    again = random_extractor(**{k: v for k, v in options.items() if k != "weights"})
    assert again.get_options() == options
    plane = random_plane(20, 22)
    assert np.array_equal(ex.extract(plane), again.extract(plane))
    assert "layers=[0, 5]" in repr(ex)
