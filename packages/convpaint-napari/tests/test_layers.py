import numpy as np
import pytest
from napari.layers import Image

from convpaint_napari.layers import check_axes, guess_axes, plane_region, spatial_shape
from convpaint_napari.options import ModelSettings, parse_ints, parse_options


@pytest.mark.parametrize(
    ("shape", "kwargs", "axes"),
    [
        ((20, 30), {}, "YX"),
        ((20, 30, 3), {"rgb": True}, "YXC"),
        ((5, 20, 30), {}, "ZYX"),
        ((5, 20, 30), {"axis_labels": ("time", "y", "x")}, "TYX"),
        ((2, 20, 30), {"axis_labels": ("c", "y", "x")}, "CYX"),
        ((4, 5, 20, 30), {}, "TZYX"),
        ((4, 5, 20, 30, 3), {"rgb": True, "axis_labels": ("t", "z", "y", "x")}, "TZYXC"),
    ],
)
def test_guess_axes(shape, kwargs, axes):
    assert guess_axes(Image(np.zeros(shape, np.uint8), **kwargs)) == axes


def test_guess_axes_asks_when_it_cannot_tell():
    labelled = Image(np.zeros((2, 3, 4, 8, 8), np.uint8), axis_labels=("c", "t", "z", "y", "x"))
    assert guess_axes(labelled) == "CTZYX"
    with pytest.raises(ValueError, match="set its axes"):
        guess_axes(Image(np.zeros((2, 3, 4, 8, 8), np.uint8)))


@pytest.mark.parametrize(
    ("axes", "shape", "match"),
    [
        ("ZYX", (20, 30), "2 dimensions"),
        ("YY", (20, 30), "at most once"),
        ("ZCYX", (3, 2, 20, 30), "channel axis"),
        ("QYX", (3, 20, 30), "at most once"),
    ],
)
def test_check_axes_names_the_problem(axes, shape, match):
    with pytest.raises(ValueError, match=match):
        check_axes(axes, shape)


def test_spatial_shape_drops_channels():
    assert spatial_shape((2, 5, 20, 30), check_axes("czyx", (2, 5, 20, 30))) == (5, 20, 30)


def test_plane_region_follows_the_viewer(make_napari_viewer):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((2, 4, 5, 20, 30), np.uint8))  # C, T, Z, Y, X
    viewer.dims.set_current_step(1, 3)
    viewer.dims.set_current_step(2, 2)
    assert plane_region(viewer, layer, "CTZYX") == (3, 2, slice(None), slice(None))
    viewer.dims.ndisplay = 3  # Z, Y, X shown: the whole volume of frame 3
    assert plane_region(viewer, layer, "CTZYX") == (3, slice(None), slice(None), slice(None))


def test_option_parsing():
    assert parse_options("sigmas=[1, 2.5]; backend=scipy; ") == {
        "sigmas": [1, 2.5],
        "backend": "scipy",
    }
    with pytest.raises(ValueError, match="name=value"):
        parse_options("sigmas")
    assert parse_ints("1, 2,4", "Scalings") == (1, 2, 4) and parse_ints(" ", "Scalings") is None
    with pytest.raises(ValueError, match="Scalings"):
        parse_ints("1.5", "Scalings")


def test_settings_round_trip_through_a_model():
    s = ModelSettings("raw", {}, (1, 2), "none", False, 7, 5, 11)
    assert ModelSettings.from_model(s.build()) == s
