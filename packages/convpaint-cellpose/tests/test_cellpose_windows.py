import numpy as np
import pytest
from cellpose import transforms

from convpaint_cellpose.extractor import cellpose_channels, normalize99
from convpaint_cellpose.windows import Blender, starts, taper, windows


@pytest.mark.parametrize("length", [256, 264, 400, 512, 1024, 1168])
def test_windows_cover_the_axis_on_the_patch_grid(length):
    origins = starts(length, 256)
    assert origins[0] == 0 and origins[-1] == length - 256
    assert all(o % 8 == 0 for o in origins)
    gaps = np.diff(origins)
    assert (gaps <= 256 - 24).all()  # neighbours overlap by >= ~10 % (cellpose's tile_overlap)


def test_taper_is_cellposes():
    np.testing.assert_allclose(taper(256), transforms._taper_mask(256, 256), rtol=1e-6)
    assert taper(256, 8).shape == (32, 32)


def test_blender_averages_to_the_window_values():
    blend = Blender(2, (512, 400), 256, patch=8)
    for y0, x0 in windows((512, 400), 256):
        blend.add(np.full((2, 32, 32), 3.0, np.float32), y0, x0)
    np.testing.assert_allclose(blend.result(), 3.0, rtol=1e-6)


def test_normalisation_is_cellposes():
    plane = np.random.default_rng(0).gamma(2.0, size=(2, 60, 70)).astype(np.float32)
    for c in range(2):
        np.testing.assert_allclose(
            normalize99(plane)[c], transforms.normalize99(plane[c]), rtol=1e-5, atol=1e-6
        )
    assert (normalize99(np.ones((1, 5, 5), np.float32)) == 0).all()


def test_replicated_gray_goes_in_as_one_channel():
    gray = np.random.default_rng(1).random((1, 8, 8)).astype(np.float32)
    assert cellpose_channels(np.repeat(gray, 3, axis=0)).shape == (1, 8, 8)
    rgb = np.random.default_rng(2).random((3, 8, 8)).astype(np.float32)
    assert cellpose_channels(rgb).shape == (3, 8, 8)
