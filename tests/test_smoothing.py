"""Mean filter of probabilities and majority filter of labels (convpaint.smoothing)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from convpaint.smoothing import (
    FOOTPRINTS,
    check_smooth,
    smooth_labels,
    smooth_proba,
    smoothing_margin,
)

SHAPE = (37, 29)


def _proba(shape=SHAPE, k_classes=3, seed=0):
    p = np.random.default_rng(seed).random((k_classes, 2, 1, *shape)).astype(np.float32)
    return p / p.sum(0)


def _labels(shape=SHAPE, seed=0, values=(1, 2, 3)):
    rng = np.random.default_rng(seed)
    return np.asarray(values, np.uint8)[rng.integers(0, len(values), (2, 1, *shape))]


@pytest.mark.parametrize("r", [1, 2, 3])
def test_box_mean_matches_scipy_uniform_filter(r):
    proba = _proba()
    out = smooth_proba(proba, r)
    ref = ndimage.uniform_filter(
        proba.astype(np.float64), (1, 1, 1, 2 * r + 1, 2 * r + 1), mode="nearest"
    )
    ref /= ref.sum(0)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert out.dtype == np.float32 and out.shape == proba.shape


def test_disk_mean_matches_scipy_with_a_disk_footprint():
    r = 3
    proba = _proba()
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = (yy**2 + xx**2 <= r * r).astype(np.float64)
    ref = ndimage.correlate(proba.astype(np.float64), disk[None, None, None], mode="nearest")
    ref /= ref.sum(0)
    np.testing.assert_allclose(smooth_proba(proba, r, footprint="disk"), ref, atol=1e-6)


@pytest.mark.parametrize("footprint", FOOTPRINTS)
@pytest.mark.parametrize("r", [1, 2, 4])
def test_smooth_proba_sums_to_one_and_dask_equals_numpy(footprint, r):
    proba = _proba()
    out = smooth_proba(proba, r, footprint=footprint)
    np.testing.assert_allclose(out.sum(0), 1, atol=1e-6)
    assert not np.array_equal(out, proba)
    lazy = smooth_proba(da.from_array(proba, chunks=(1, 1, 1, 9, 8)), r, footprint=footprint)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), out)
    np.testing.assert_array_equal(smooth_proba(proba.copy(), r, footprint=footprint), out)


def test_smoothing_reduces_noise_and_keeps_a_constant():
    const = np.full((2, 1, 1, 12, 10), 0.5, np.float32)
    np.testing.assert_array_equal(smooth_proba(const, 2), const)
    noisy = _proba()
    assert smooth_proba(noisy, 2).std() < 0.5 * noisy.std()


WINDOWS = [
    (slice(5, 17), slice(3, 28)),
    (slice(0, 6), slice(0, 29)),
    (slice(30, 37), slice(20, 29)),
]


@pytest.mark.parametrize("footprint", FOOTPRINTS)
@pytest.mark.parametrize("r", [1, 3])
@pytest.mark.parametrize(("rows", "cols"), WINDOWS)
def test_smoothing_a_crop_with_its_margin_equals_the_crop_of_the_whole(footprint, r, rows, cols):
    m = smoothing_margin(r)
    grown = (
        slice(max(rows.start - m, 0), rows.stop + m),
        slice(max(cols.start - m, 0), cols.stop + m),
    )
    inner = (
        slice(rows.start - grown[0].start, rows.stop - grown[0].start),
        slice(cols.start - grown[1].start, cols.stop - grown[1].start),
    )
    proba, labels = _proba(), _labels()
    whole = smooth_proba(proba, r, footprint=footprint)
    part = smooth_proba(proba[..., grown[0], grown[1]], r, footprint=footprint)
    np.testing.assert_array_equal(part[..., inner[0], inner[1]], whole[..., rows, cols])
    whole = smooth_labels(labels, r, (1, 2, 3), footprint=footprint)
    part = smooth_labels(labels[..., grown[0], grown[1]], r, (1, 2, 3), footprint=footprint)
    np.testing.assert_array_equal(part[..., inner[0], inner[1]], whole[..., rows, cols])


def test_a_smaller_margin_would_not_be_enough():
    r = 2
    proba = _proba()
    rows = slice(10, 20)
    whole = smooth_proba(proba, r)[..., rows, :]
    short = smooth_proba(proba[..., 10 - (r - 1) : 20 + (r - 1), :], r)[..., r - 1 : r - 1 + 10, :]
    assert not np.array_equal(short, whole)


def test_majority_filter_matches_a_direct_count():
    labels = _labels(values=(0, 2, 5))
    r = 1
    out = smooth_labels(labels, r, (0, 2, 5))
    padded = np.pad(labels, [(0, 0), (0, 0), (r, r), (r, r)], mode="edge")
    rng = np.random.default_rng(1)
    for _ in range(200):
        t, y, x = rng.integers(0, 2), rng.integers(0, SHAPE[0]), rng.integers(0, SHAPE[1])
        window = padded[t, 0, y : y + 2 * r + 1, x : x + 2 * r + 1].ravel()
        counts = {c: int((window == c).sum()) for c in (0, 2, 5)}
        top = max(counts.values())
        tied = [c for c in (0, 2, 5) if counts[c] == top]
        centre = labels[t, 0, y, x]
        assert out[t, 0, y, x] == (centre if centre in tied else min(tied))


def test_majority_ties_keep_the_centre_else_the_smallest_class():
    three = np.array([[[[1, 2, 3]]]], np.uint8)  # centre 2 sees 1, 2, 3 three times each
    np.testing.assert_array_equal(smooth_labels(three, 1, (1, 2, 3)), [[[[1, 2, 3]]]])
    stripes = np.array([[[[3, 1, 3, 1, 3]]]], np.uint8)  # edges replicate: 3,3,1 | 3,1,3 | 1,3,1
    np.testing.assert_array_equal(smooth_labels(stripes, 1, (1, 3)), [[[[3, 3, 1, 3, 3]]]])
    tie = np.array([[[[1, 1, 2], [1, 3, 2], [1, 2, 2]]]], np.uint8)  # centre: 1 and 2 four times
    assert smooth_labels(tie, 1, (1, 2, 3))[0, 0, 1, 1] == 1
    swapped = np.where(tie == 1, 5, tie).astype(np.uint8)  # now 2 is the smaller tied class
    assert smooth_labels(swapped, 1, (2, 3, 5))[0, 0, 1, 1] == 2


def test_majority_removes_isolated_pixels_and_rounds_corners():
    labels = np.ones((1, 1, 30, 30), np.uint8)
    labels[..., 10:25, 10:25] = 2
    noisy = labels.copy()
    noisy[0, 0, 3, 4] = 2
    noisy[0, 0, 15, 15] = 1
    for footprint in FOOTPRINTS:
        out = smooth_labels(noisy, 1, footprint=footprint)
        changed = set(zip(*np.nonzero(out != labels)[2:], strict=True))
        # a box window sees 4 of 9 pixels of the square at its corners: they turn to 1
        corners = {(10, 10), (10, 24), (24, 10), (24, 24)} if footprint == "box" else set()
        assert changed == corners


@pytest.mark.parametrize("footprint", FOOTPRINTS)
def test_smooth_labels_dask_equals_numpy_and_keeps_the_dtype(footprint):
    labels = _labels().astype(np.int32) * 100
    out = smooth_labels(labels, 2, footprint=footprint)
    assert out.dtype == np.int32 and out.shape == labels.shape
    lazy = smooth_labels(
        da.from_array(labels, chunks=(1, 1, 8, 9)), 2, (100, 200, 300), footprint=footprint
    )
    assert isinstance(lazy, da.Array) and lazy.dtype == np.int32
    np.testing.assert_array_equal(lazy.compute(), out)
    lazy_default = smooth_labels(
        da.from_array(labels, chunks=(1, 1, 20, 20)), 2, footprint=footprint
    )
    np.testing.assert_array_equal(lazy_default.compute(), out)


def test_radius_zero_is_off():
    proba, labels = _proba(), _labels()
    assert smooth_proba(proba, 0) is proba
    assert smooth_labels(labels, 0, (1, 2, 3)) is labels
    assert smoothing_margin(0) == 0 and smoothing_margin(3) == 3


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2", None])
def test_check_smooth_refuses_bad_radii(bad):
    with pytest.raises(ValueError, match="smooth must be a non-negative integer radius"):
        check_smooth(bad)
    assert check_smooth(2.0) == 2 and check_smooth(np.int64(1)) == 1


def test_bad_inputs_get_one_clear_error():
    proba, labels = _proba(), _labels()
    with pytest.raises(ValueError, match="footprint must be one of box, disk"):
        smooth_proba(proba, 1, footprint="square")
    with pytest.raises(ValueError, match=r"proba must be \(classes"):
        smooth_proba(proba[0, 0, 0], 1)
    with pytest.raises(TypeError, match="proba must be a float array"):
        smooth_proba(labels, 1)
    with pytest.raises(TypeError, match="labels must be an integer image"):
        smooth_labels(proba[0], 1)
    with pytest.raises(ValueError, match=r"values \[3\] that are not in classes \[1, 2\]"):
        smooth_labels(labels, 1, (1, 2))
    with pytest.raises(ValueError, match="repeated"):
        smooth_labels(labels, 1, (1, 2, 2, 3))
    with pytest.raises(TypeError, match="integer class values"):
        smooth_labels(labels, 1, ("a", "b"))
    with pytest.raises(TypeError, match="sequence of integer class values"):
        smooth_labels(labels, 1, "123")
