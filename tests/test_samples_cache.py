"""Training samples kept per tile in the feature cache: after a stroke only the tiles it
touched are gathered again, and the samples equal those gathered without a cache."""

import numpy as np
import pytest

import convpaint
from convpaint.feature_maps import FeatureMaps


def _image(seed=0, shape=(120, 150)):
    rng = np.random.default_rng(seed)
    image = rng.normal(0.4, 0.05, shape).astype(np.float32)
    image[30:80, 40:110] += 0.3
    return image


def _annotations(shape=(120, 150)):
    ann = np.zeros(shape, np.uint8)
    ann[5:8, 5:140] = 1  # crosses several 48-px tiles
    ann[50:54, 60:90] = 2
    return ann


@pytest.fixture
def gathers(monkeypatch):
    """Count the per-tile gathers of training features (FeatureMaps.at calls)."""
    calls = []
    at = FeatureMaps.at

    def counted(self, rows, cols):
        calls.append(rows.size)
        return at(self, rows, cols)

    monkeypatch.setattr(FeatureMaps, "at", counted)
    return calls


def _samples(model, image, ann, axes=None):
    s = model.training_samples(image, ann, axes)
    return s.x, s.y


def test_only_the_tiles_a_stroke_touched_are_gathered_again(gathers):
    image, ann = _image(), _annotations()
    model = convpaint.ConvpaintModel("ilastik", tile_size=48, progress=False)
    plain = convpaint.ConvpaintModel("ilastik", tile_size=48, progress=False, cache_bytes=0)
    first = _samples(model, image, ann)
    n_tiles = len(gathers)
    assert n_tiles > 3
    gathers.clear()
    again = _samples(model, image, ann)
    assert gathers == []  # nothing gathered: every tile's samples came from the cache
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    ann[100:104, 120:140] = 2  # a stroke inside one tile
    gathers.clear()
    stroke = _samples(model, image, ann)
    assert len(gathers) == 1
    expected = _samples(plain, image, ann)
    assert all(np.array_equal(a, b) for a, b in zip(stroke, expected, strict=True))
    ann[100:104, 120:140] = 0  # erased: the tile's earlier samples serve again
    gathers.clear()
    assert np.array_equal(_samples(model, image, ann)[0], first[0])
    assert gathers == []


def test_samples_of_another_image_are_not_reused(gathers):
    image, ann = _image(), _annotations()
    model = convpaint.ConvpaintModel("ilastik", tile_size=48, progress=False)
    _samples(model, image, ann)
    other = image.copy()
    other[7, 7] += 0.5
    gathers.clear()
    x, y = _samples(model, other, ann)
    assert len(gathers) > 3
    plain = convpaint.ConvpaintModel("ilastik", tile_size=48, progress=False, cache_bytes=0)
    assert np.array_equal(x, _samples(plain, other, ann)[0])


def test_volume_samples_equal_uncached():
    rng = np.random.default_rng(2)
    stack = rng.normal(0.5, 0.1, (4, 40, 50)).astype(np.float32)
    ann = np.zeros(stack.shape, np.uint8)
    ann[1, 5:8, 5:45] = 1
    ann[2, 20:25, 10:30] = 2
    kw = {"volumetric": True, "progress": False}
    cached = convpaint.ConvpaintModel("ilastik", **kw)
    plain = convpaint.ConvpaintModel("ilastik", cache_bytes=0, **kw)
    for _ in range(2):
        got = _samples(cached, stack, ann, "ZYX")
        expected = _samples(plain, stack, ann, "ZYX")
        assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
