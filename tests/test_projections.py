"""3-D multi-projection features: shapes, the xy family, z_scale, save/load, lazy input."""

import numpy as np
import pytest

import convpaint
from convpaint import load_model

FAST = {"sigmas": (0.7, 1.6), "n_estimators": 8}


@pytest.fixture
def stack():
    rng = np.random.default_rng(0)
    vol = (rng.random((7, 40, 48)) * 255).astype(np.uint8)
    ann = np.zeros(vol.shape, np.uint8)
    ann[3, 2:5, 3:30] = 1
    ann[4, 20:23, 5:40] = 2
    return vol, ann


def test_three_projections_triple_the_features(stack):
    vol, ann = stack
    plain = convpaint.ConvpaintModel("ilastik", **FAST).train(vol, ann, axes="ZYX")
    model = convpaint.ConvpaintModel("ilastik", projections=("yz", "xy", "xz"), **FAST)
    assert model.projections == ("xy", "xz", "yz") and model.volumetric
    model.train(vol, ann, axes="ZYX")
    assert model.n_features_ == 3 * plain.n_features_
    assert model.segment(vol, axes="ZYX").shape == vol.shape
    assert model.predict_proba(vol, axes="ZYX").shape == (2, *vol.shape)
    # the xy family is exactly the plane-by-plane features
    feats = model.compute_features(vol, axes="ZYX")
    assert np.array_equal(feats[: plain.n_features_], plain.compute_features(vol, axes="ZYX"))
    assert not np.array_equal(feats[plain.n_features_ :], feats[: plain.n_features_])


def test_z_scale_resamples_only_xz_yz(stack):
    vol, _ = stack
    iso = convpaint.ConvpaintModel("ilastik", projections=("xy", "xz"), **FAST)
    aniso = convpaint.ConvpaintModel("ilastik", projections=("xy", "xz"), z_scale=3, **FAST)
    a, b = iso.compute_features(vol, axes="ZYX"), aniso.compute_features(vol, axes="ZYX")
    n = a.shape[0] // 2
    assert np.array_equal(a[:n], b[:n])
    assert not np.allclose(a[n:], b[n:])


def test_saved_and_loaded(stack, tmp_path):
    vol, ann = stack
    model = convpaint.ConvpaintModel("ilastik", projections=("xy", "yz"), z_scale=2.0, **FAST)
    model.train(vol, ann, axes="ZYX").save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.projections == ("xy", "yz") and loaded.z_scale == 2.0
    assert np.array_equal(loaded.segment(vol, axes="ZYX"), model.segment(vol, axes="ZYX"))


def test_files_without_projections_load_as_xy(stack, tmp_path, monkeypatch):
    vol, ann = stack
    model = convpaint.ConvpaintModel("ilastik", **FAST).train(vol, ann, axes="ZYX")
    meta = model._metadata()
    monkeypatch.setattr(
        model,
        "_metadata",
        lambda: {k: v for k, v in meta.items() if k not in ("projections", "z_scale")},
    )
    model.save(tmp_path / "old.npz")
    loaded = load_model(tmp_path / "old.npz")
    assert loaded.projections == ("xy",) and not loaded.volumetric


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"projections": ("xy", "ab")}, "plane families"),
        ({"projections": ()}, "plane families"),
        ({"projections": ("xz", "xz")}, "plane families"),
        ({"projections": ("xy", "xz"), "z_scale": 0}, "z_scale"),
        ({"projections": ("xy", "xz"), "z_scale": "thick"}, "z_scale"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        convpaint.ConvpaintModel("ilastik", **kwargs)


def test_lazy_stack_equals_in_memory(stack):
    da = pytest.importorskip("dask.array")
    vol, ann = stack
    model = convpaint.ConvpaintModel(
        "ilastik", projections=("xy", "xz", "yz"), tile_size=24, **FAST
    )
    model.train(vol, ann, axes="ZYX")
    lazy = model.segment(da.from_array(vol, chunks=(3, 20, 20)), axes="ZYX")
    assert np.array_equal(lazy.compute(), model.segment(vol, axes="ZYX"))


class _Box(convpaint.FeatureExtractor):
    """A 5 x 5 box mean and the plane itself (padding 2, borders mirrored)."""

    name = "box"
    padding = 2

    def extract(self, plane):
        from scipy import ndimage

        return np.stack([plane[0], ndimage.uniform_filter(plane[0], 5, mode="mirror")])


class _BoxInterior(_Box):
    calls = 0

    def extract_interior(self, plane, margin):  # the hook ProjectionExtractor prefers
        type(self).calls += 1
        (my, mx), (h, w) = margin, plane.shape[-2:]
        return self.extract(plane)[:, my : h - my, mx : w - mx]


@pytest.mark.parametrize("z_scale", [1.0, 2.5])
def test_interior_equals_cropped_volume(z_scale):
    """Only the kept planes, rows and columns are featurised, with the same numbers; an
    extractor's ``extract_interior`` hook is used when it has one."""
    from convpaint.projections import ProjectionExtractor

    vol = np.random.default_rng(3).random((1, 9, 12, 14)).astype(np.float32)
    families = ("xy", "xz", "yz")
    plain = ProjectionExtractor(_Box(), families, z_scale)
    hooked = ProjectionExtractor(_BoxInterior(), families, z_scale)
    assert plain.planewise and plain.n_features is None  # _Box does not say
    full = plain.extract_volume(vol)
    assert full.shape == (6, 9, 12, 14) and full.dtype == np.float32
    margin = (3, 2, 4)
    want = full[:, 3:-3, 2:-2, 4:-4]
    assert np.array_equal(plain.extract_volume_interior(vol, margin), want)
    _BoxInterior.calls = 0
    assert np.array_equal(hooked.extract_volume_interior(vol, margin), want)
    assert _BoxInterior.calls == (9 - 6) + (12 - 4) + (14 - 8)  # kept z, y and x only
    with pytest.raises(ValueError, match="margin"):
        plain.extract_volume_interior(vol, (5, 0, 0))
