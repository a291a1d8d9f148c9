"""Normalised units kept in the feature cache: reused only for the same pixels and the same
normalisation, equal to fresh ones, read-only, bounded, and invisible in results."""

import numpy as np
import pytest

import convpaint
from convpaint.cache import FeatureCache
from convpaint.units import CACHED_UNITS_SHARE, make_units


def _stack(seed=0, shape=(2, 3, 1, 40, 50)):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, shape).astype(np.uint8)


def _equal(a, b):
    assert [u.index for u in a] == [u.index for u in b]
    assert all(np.array_equal(u.data, v.data) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize("mode", ["image", "stack", "none"])
def test_same_pixels_reuse_the_units(mode):
    canon, cache = _stack(), FeatureCache()
    first = make_units(canon, mode, False, cache=cache)
    again = make_units(canon.copy(), mode, False, cache=cache)  # a new array, same pixels
    assert all(u is v for u, v in zip(first, again, strict=True))
    _equal(again, make_units(canon, mode, False))
    assert all(not u.data.flags.writeable for u in again)


def test_changed_pixels_are_normalised_again():
    canon, cache = _stack(), FeatureCache()
    first = make_units(canon, "image", False, cache=cache)
    canon[0, 1, 0, 5, 5] ^= 1
    changed = make_units(canon, "image", False, cache=cache)
    assert changed[1] is not first[1]
    _equal(changed, make_units(canon, "image", False))


def test_stack_statistics_follow_planes_outside_the_selection():
    canon, cache = _stack(), FeatureCache()
    planes = [(0, 1)]
    first = make_units(canon, "stack", False, planes=planes, cache=cache)
    canon[1, 2] = 255  # not selected, but part of the stack's statistics
    after = make_units(canon, "stack", False, planes=planes, cache=cache)
    assert not np.array_equal(after[0].data, first[0].data)
    _equal(after, make_units(canon, "stack", False, planes=planes))
    # per-image statistics ignore other planes: the cached units serve
    img = make_units(canon, "image", False, planes=planes, cache=cache)
    canon[1, 0] = 0
    assert make_units(canon, "image", False, planes=planes, cache=cache)[0] is img[0]


def test_selections_and_layouts_do_not_mix():
    canon, cache = _stack(), FeatureCache()
    by_planes = make_units(canon, "image", False, planes=[(0, 0)], cache=cache)
    by_slices = make_units(canon, "image", False, slice(0, 1), slice(0, 1), cache=cache)
    volume = make_units(canon, "image", True, slice(0, 1), cache=cache)
    assert by_planes[0] is not by_slices[0]
    assert volume[0].data.shape == (1, 3, 40, 50) and by_slices[0].data.shape == (1, 40, 50)
    _equal(volume, make_units(canon, "image", True, slice(0, 1)))


def test_large_units_and_disabled_caches_are_not_kept():
    canon = _stack()
    small = FeatureCache(int(4 * 40 * 50 * 6 / CACHED_UNITS_SHARE) - 1)
    make_units(canon, "image", False, cache=small)
    assert len(small) == 0
    off = FeatureCache(0)
    make_units(canon, "image", False, cache=off)
    assert len(off) == 0


def test_results_do_not_depend_on_the_units_cache():
    rng = np.random.default_rng(1)
    image = rng.normal(100, 20, (64, 80)).astype(np.float32)
    image[10:40, 20:60] += 60
    ann = np.zeros(image.shape, np.uint8)
    ann[2:4, 2:70] = 1
    ann[20:24, 30:50] = 2
    cached = convpaint.ConvpaintModel("raw", progress=False).train(image, ann)
    plain = convpaint.ConvpaintModel("raw", progress=False, cache_bytes=0).train(image, ann)
    keys = [k for k in cached.feature_cache._entries if k[0] == "normalised units"]
    assert keys  # training stored its units
    for _ in range(2):  # the second call reads the stored units
        assert np.array_equal(cached.segment(image), plain.segment(image))
        assert np.array_equal(cached.predict_proba(image), plain.predict_proba(image))
    image[0, 0] += 1000  # edited in place: the next call sees the new pixels
    assert np.array_equal(cached.predict_proba(image), plain.predict_proba(image))
