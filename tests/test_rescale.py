"""Downsampling of canonical images and upsampling of probabilities (convpaint.rescale)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from skimage.transform import downscale_local_mean, resize

from convpaint.rescale import (
    check_downsample,
    downsample_annotations,
    downsample_image,
    low_shape,
    low_window,
    upsample_proba,
)

SHAPES = [(37, 29), (32, 48), (1, 5), (7, 1)]


def _image(shape, dtype=np.uint16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4000, (2, 1, 3, *shape)).astype(dtype)


def _proba(shape, k_classes=3, seed=1):
    p = np.random.default_rng(seed).random((k_classes, 2, 1, *shape)).astype(np.float32)
    return p / p.sum(0)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_downsample_matches_skimage_where_k_divides(k):
    image = _image((144, 72))  # divisible by 2, 3 and 4
    low = downsample_image(image, k)
    expected = downscale_local_mean(image.astype(np.float64), (1, 1, 1, k, k))
    assert low.dtype == np.float32 and low.shape == expected.shape
    np.testing.assert_allclose(low, expected, rtol=1e-6)


def test_downsample_edge_blocks_average_the_pixels_present():
    image = np.arange(5 * 7, dtype=np.uint8).reshape(1, 1, 1, 5, 7)
    low = downsample_image(image, 3)
    assert low.shape == (1, 1, 1, 2, 3)
    plane = image[0, 0, 0].astype(np.float64)
    assert low[0, 0, 0, 1, 2] == np.float32(plane[3:5, 6:7].mean())  # 2 x 1 pixels
    assert low[0, 0, 0, 0, 2] == np.float32(plane[0:3, 6:7].mean())
    assert low[0, 0, 0, 1, 0] == np.float32(plane[3:5, 0:3].mean())
    # zero padding (skimage) would darken the partial blocks
    assert low[0, 0, 0, 1, 2] > downscale_local_mean(plane, (3, 3))[1, 2]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_downsample_shapes_and_dask_equals_numpy(shape, k):
    image = _image(shape)
    low = downsample_image(image, k)
    assert low.shape == (2, 1, 3, *low_shape(shape, k))
    lazy = downsample_image(da.from_array(image, chunks=(1, 1, 2, 8, 6)), k)
    if k == 1:
        assert low is image and lazy.dtype == image.dtype
    else:
        assert isinstance(lazy, da.Array) and lazy.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(lazy), low)


def test_downsample_float_image_keeps_its_scale_and_is_deterministic():
    image = np.random.default_rng(3).random((1, 1, 1, 33, 31)).astype(np.float32)
    a, b = downsample_image(image, 4), downsample_image(image.copy(), 4)
    np.testing.assert_array_equal(a, b)
    assert 0.3 < a.mean() < 0.7  # means of values in [0, 1], not rescaled


@pytest.mark.parametrize("k", [2, 4])
def test_upsample_matches_skimage_bilinear_where_k_divides(k):
    low = _proba((8, 6))
    up = upsample_proba(low, (8 * k, 6 * k), k)
    ref = resize(low, (*low.shape[:3], 8 * k, 6 * k), order=1, mode="edge", anti_aliasing=False)
    np.testing.assert_allclose(up, ref, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_upsample_shape_sum_and_dask_equals_numpy(shape, k):
    low = _proba(low_shape(shape, k))
    up = upsample_proba(low, shape, k)
    assert up.shape == (3, 2, 1, *shape) and up.dtype == np.float32
    np.testing.assert_allclose(up.sum(0), 1, atol=1e-6)
    assert up.min() >= 0 and up.max() <= 1
    if k == 1:
        np.testing.assert_array_equal(up, low)
    lazy = upsample_proba(da.from_array(low, chunks=(3, 2, 1, 4, 6)), shape, k)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), up)


def test_upsample_of_a_ramp_is_linear_inside_and_clamped_at_the_border():
    k = 4
    ramp = np.arange(6, dtype=np.float32)[None, None, None, :, None] * np.ones((1, 1, 1, 1, 3))
    up = upsample_proba(ramp, (24, 12), k)[0, 0, 0, :, 0]
    i = np.arange(24)
    np.testing.assert_allclose(up, np.clip((i + 0.5) / k - 0.5, 0, 5), atol=1e-6)


WINDOWS = [
    (slice(0, 37), slice(0, 29)),
    (slice(5, 17), slice(3, 28)),
    (slice(36, 37), slice(28, 29)),
    (slice(0, 1), slice(13, 14)),
    (slice(8, 24), slice(8, 16)),
]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7])
@pytest.mark.parametrize(("rows", "cols"), WINDOWS)
def test_upsampling_a_window_equals_the_window_of_the_whole(k, rows, cols):
    shape = (37, 29)
    low = _proba(low_shape(shape, k))
    whole = upsample_proba(low, shape, k)
    (lr, lc), origin = low_window(rows, cols, k, low.shape[-2:])
    size = (rows.stop - rows.start, cols.stop - cols.start)
    part = low[..., lr, lc]
    assert part.shape[-2] <= -(-size[0] // k) + 2 and part.shape[-1] <= -(-size[1] // k) + 2
    crop = upsample_proba(part, size, k, origin=origin)
    np.testing.assert_array_equal(crop, whole[..., rows, cols])
    chunks = (3, 2, 1, max(2, part.shape[-2] // 3), max(1, part.shape[-1] // 2))
    lazy = upsample_proba(da.from_array(part, chunks=chunks), size, k, origin=origin)
    np.testing.assert_array_equal(lazy.compute(), crop)


def test_a_too_small_low_window_is_refused():
    low = _proba((5, 5))
    with pytest.raises(ValueError, match="does not cover"):
        upsample_proba(low, (21, 8), 4)
    with pytest.raises(ValueError, match="does not cover"):
        upsample_proba(low, (4, 4), 4, origin=(-1, 0))
    with pytest.raises(ValueError, match="outside an image"):
        low_window(slice(0, 21), slice(0, 4), 4, (5, 5))
    with pytest.raises(ValueError, match="step 1"):
        low_window(slice(0, 8, 2), slice(0, 4), 4, (5, 5))


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2", None, np.float64(2.5)])
def test_check_downsample_refuses_bad_factors(bad):
    with pytest.raises(ValueError, match="downsample must be a positive integer"):
        check_downsample(bad)


def test_check_downsample_accepts_integers():
    assert check_downsample(3) == 3
    assert check_downsample(np.int64(2)) == 2
    assert check_downsample(4.0) == 4
    assert type(check_downsample(np.int32(2))) is int


def test_downsample_annotations_votes_per_block_and_keeps_thin_strokes():
    ann = np.zeros((1, 1, 9, 7), np.uint8)
    ann[0, 0, 4, :] = 2  # a one-pixel stroke
    ann[0, 0, 0:2, 0:2] = 1  # block (0, 0): four 1s and one 2
    ann[0, 0, 2, 0] = 2
    ann[0, 0, 6:9, 3] = 3  # block (2, 1): three 3s and three 1s, a tie
    ann[0, 0, 6:9, 5] = 1
    low = downsample_annotations(ann, 3)
    assert low.dtype == np.uint8 and low.shape == (1, 1, 3, 3)
    expected = np.array([[1, 0, 0], [2, 2, 2], [0, 1, 0]], np.uint8)  # the tie: 1, smaller
    np.testing.assert_array_equal(low[0, 0], expected)
    lazy = downsample_annotations(da.from_array(ann, chunks=(1, 1, 4, 4)), 3)
    np.testing.assert_array_equal(lazy.compute(), low)
    assert downsample_annotations(ann, 1) is ann
    with pytest.raises(ValueError, match="annotations must be an integer array"):
        downsample_annotations(ann.astype(np.float32), 2)
