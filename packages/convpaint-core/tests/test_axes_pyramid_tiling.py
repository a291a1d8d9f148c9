import numpy as np
import pytest

from convpaint.axes import (
    AxesError,
    annotations_to_canonical,
    from_canonical_spatial,
    resolve_axes,
    to_canonical,
)
from convpaint.pyramid import downscale, upsample
from convpaint.tiling import TileGrid


@pytest.mark.parametrize(
    "shape, axes, canon",
    [
        ((5, 7), None, (1, 1, 1, 5, 7)),
        ((5, 7, 3), None, (1, 1, 3, 5, 7)),
        ((5, 7, 4), None, (1, 1, 3, 5, 7)),  # RGBA: alpha dropped
        ((4, 5, 7), "ZYX", (1, 4, 1, 5, 7)),
        ((2, 4, 5, 7), "TZYX", (2, 4, 1, 5, 7)),
        ((3, 5, 7), "CYX", (1, 1, 3, 5, 7)),
        ((2, 3, 4, 5, 7), "TCZYX", (2, 4, 3, 5, 7)),
    ],
)
def test_canonical_shapes(shape, axes, canon):
    layout = resolve_axes(shape, axes)
    assert to_canonical(np.zeros(shape), layout).shape == canon


@pytest.mark.parametrize("axes", ["ZYX", "TYX", "YXZ", "TZYX", "ZTYX", "CZYX"])
def test_spatial_round_trip(axes):
    rng = np.random.default_rng(0)
    shape = tuple(int(s) for s in rng.integers(2, 6, size=len(axes)))
    layout = resolve_axes(shape, axes)
    spatial = tuple(s for s, a in zip(shape, axes, strict=True) if a != "C")
    labels = rng.integers(0, 9, size=spatial)
    canon = annotations_to_canonical(labels, layout)
    assert np.array_equal(from_canonical_spatial(canon, layout), labels)


@pytest.mark.parametrize(
    "shape, axes, match",
    [
        ((4, 5, 7), None, "pass axes="),
        ((4, 5, 7), "YX", "2 letters"),
        ((4, 5, 7), "QYX", "unknown axis"),
        ((4, 5, 7), "YYX", "repeated"),
        ((4, 5, 7), "CZT", "must contain Y and X"),
    ],
)
def test_bad_axes(shape, axes, match):
    with pytest.raises(AxesError, match=match):
        resolve_axes(shape, axes)


def test_pyramid_resampling_is_translation_exact():
    rng = np.random.default_rng(1)
    f = rng.random((3, 24, 30), dtype=np.float32)
    full = upsample(f, 3)
    crop = upsample(f[:, 5:15, 7:19], 3)
    # away from the crop border (one source pixel), values are bit-identical
    assert np.array_equal(full[:, 18:42, 24:54], crop[:, 3:27, 3:33])
    x = rng.random((2, 12, 18), dtype=np.float32)
    assert np.array_equal(downscale(x, 3)[:, 1:3, 2:5], downscale(x[:, 3:9, 6:15], 3))
    with pytest.raises(ValueError, match="divisible"):
        downscale(x[:, :10], 3)


def test_tile_grid_covers_image_once():
    grid = TileGrid((70, 45), tile=32, halo=8)
    seen = np.zeros((70, 45), int)
    for tile in grid:
        seen[tile.inner] += 1
        ys, xs = tile.block
        assert ys.stop - ys.start == tile.inner[0].stop - tile.inner[0].start + 16
        assert xs.stop - xs.start == tile.inner[1].stop - tile.inner[1].start + 16
    assert (seen == 1).all() and len(grid) == 6
    padded = grid.pad(np.arange(70 * 45, dtype=float).reshape(70, 45))
    assert padded.shape == (86, 61)
    mask = np.zeros((70, 45), bool)
    mask[40, 40] = True
    assert [t.inner for t in grid.touching(mask)] == [(slice(32, 64), slice(32, 45))]


@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_upsample_into_equals_crop_of_upsample(factor):
    from convpaint.pyramid import upsample_into

    rng = np.random.default_rng(factor)
    f = rng.random((3, 2, 9, 7)).astype(np.float32)
    full = upsample(f, factor)
    for y0, x0, dh, dw in [(0, 0, 0, 0), (factor, 0, 3, 1), (2 * factor, factor, 1, factor + 1)]:
        h, w = full.shape[-2] - y0 - dh, full.shape[-1] - x0 - dw
        out = np.empty((3, 2, h, w), np.float32)
        upsample_into(f, factor, (y0, x0), out)
        assert np.array_equal(out, full[..., y0 : y0 + h, x0 : x0 + w])
    if factor > 1:
        with pytest.raises(ValueError, match="not a multiple"):
            upsample_into(f, factor, (1, 0), np.empty((3, 2, 4, 4), np.float32))


def test_symmetric_blocks_equal_padded_plane():
    rng = np.random.default_rng(0)
    for shape, tile, halo in [((37, 50), 16, 8), ((5, 7), 4, 20), ((3, 130), 128, 9)]:
        plane = rng.random((2, *shape))
        grid = TileGrid(shape, tile, halo)
        padded = grid.pad(plane)
        for t in grid:
            assert np.array_equal(grid.block(plane, t), padded[(Ellipsis, *t.block)])
