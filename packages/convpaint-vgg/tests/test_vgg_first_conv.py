from __future__ import annotations

import numpy as np
import pytest
from vgg_testutils import random_extractor, random_plane

from convpaint_vgg.first_conv import conv3x3


def _weights(seed: int = 0, n_out: int = 8, n_in: int = 3):
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((n_out, n_in, 3, 3)).astype(np.float32)
    return weight, rng.standard_normal(n_out).astype(np.float32)


def test_matches_torch_conv2d():
    import torch

    weight, bias = _weights()
    plane = random_plane(23, 41)
    got = conv3x3(plane, weight, bias)
    ref = torch.nn.functional.conv2d(
        torch.from_numpy(plane)[None], torch.from_numpy(weight), torch.from_numpy(bias), padding=1
    )[0].numpy()
    assert got.shape == (8, 23, 41) and got.flags.c_contiguous
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 41, 100, 10_000])
def test_chunking_and_tiling_are_bit_exact(chunk):
    weight, bias = _weights(1)
    plane = random_plane(30, 41, seed=2)
    full = conv3x3(plane, weight, bias)
    assert np.array_equal(conv3x3(plane, weight, bias, chunk_pixels=chunk), full)
    tile = conv3x3(plane[:, 4:27, 9:38], weight, bias, chunk_pixels=chunk)
    assert np.array_equal(tile[:, 1:-1, 1:-1], full[:, 5:26, 10:37])


def test_zero_padding_at_borders():
    weight, bias = _weights(3, n_out=2, n_in=1)
    out = conv3x3(np.ones((1, 3, 3), np.float32), weight, bias)
    # the corner sees 4 of the 9 taps, the centre all 9
    assert np.isclose(out[0, 0, 0], weight[0, 0, 1:, 1:].sum() + bias[0], atol=1e-6)
    assert np.isclose(out[0, 1, 1], weight[0, 0].sum() + bias[0], atol=1e-6)


def test_bad_input():
    weight, bias = _weights()
    with pytest.raises(ValueError, match="plane"):
        conv3x3(np.zeros((4, 4), np.float32), weight, bias)
    with pytest.raises(ValueError, match="do not fit"):
        conv3x3(np.zeros((2, 4, 4), np.float32), weight, bias)


def test_equals_vgg16_layer0_to_rounding():
    ex = random_extractor()
    plane = random_plane(29, 38, seed=4)
    conv = ex._trunk[0]
    got = conv3x3(plane, conv.weight.detach().numpy(), conv.bias.detach().numpy())
    ref = ex.extract(plane)
    assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()
