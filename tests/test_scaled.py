"""``smooth=`` and ``downsample=`` through the model: shapes, region == crop of full,
lazy == in-memory, determinism, training at 1/k, model files and streamed stores."""

import numpy as np
import pytest
from skimage import data

import convpaint
from convpaint.scaled import downsample_training

da = pytest.importorskip("dask.array")

FAST = {"sigmas": (0.7, 1.6, 3.5), "n_estimators": 10}
CASES = [{"smooth": 2}, {"downsample": 2}, {"downsample": 3, "smooth": 1}]
REGION = (slice(47, 133), slice(71, 199))


@pytest.fixture(scope="module")
def coins():
    image = data.coins()[:151, :203]  # odd sizes: k does not divide them
    ann = np.zeros(image.shape, np.uint8)
    ann[10:13, 5:100] = 1
    ann[140:143, 20:180] = 1
    ann[40:43, 40:60] = 2
    ann[95:98, 115:135] = 2
    model = convpaint.ConvpaintModel("ilastik", **FAST).train(image, ann)
    return model, image, ann


@pytest.mark.parametrize("kw", CASES)
def test_region_and_lazy_equal_the_full_result(coins, kw):
    model, image, _ = coins
    full = model.segment(image, **kw)
    assert full.shape == image.shape and full.dtype == model.segment(image).dtype
    assert np.array_equal(model.segment(image, region=REGION, **kw), full[REGION])
    lazy = model.segment(da.from_array(image, chunks=64), **kw)
    assert np.array_equal(lazy.compute(), full)
    lazy_region = model.segment(da.from_array(image, chunks=(40, 70)), region=REGION, **kw)
    assert np.array_equal(lazy_region.compute(), full[REGION])
    proba = model.predict_proba(image, **kw)
    assert proba.shape == (2, *image.shape)
    np.testing.assert_allclose(proba.sum(0), 1, atol=1e-5)
    assert np.array_equal(model.classes_[np.argmax(proba, 0)], full)
    assert np.array_equal(model.segment(image, **kw), full)  # deterministic


def test_smoothing_removes_isolated_pixels(coins):
    model, image, _ = coins
    plain = model.segment(image)
    smooth = model.segment(image, smooth=3)

    def specks(labels):
        from scipy import ndimage

        n = 0
        for v in model.classes_:
            lab, count = ndimage.label(labels == v)
            n += int((np.bincount(lab.ravel())[1:] < 5).sum())
        return n

    assert specks(smooth) < specks(plain)
    assert (smooth == plain).mean() > 0.9


def test_model_downsample_trains_at_low_resolution_and_is_stored(coins, tmp_path):
    _, image, ann = coins
    model = convpaint.ConvpaintModel("ilastik", downsample=2, smooth=1, **FAST)
    model.train(image, ann)
    small = convpaint.ConvpaintModel("ilastik", **FAST).train(image, ann)
    assert model.training_["n_samples"] < small.training_["n_samples"]
    labels = model.segment(image)
    assert labels.shape == image.shape
    assert (labels == small.segment(image)).mean() > 0.7  # same objects, coarser borders
    lazy_train = convpaint.ConvpaintModel("ilastik", downsample=2, smooth=1, **FAST)
    lazy_train.train(da.from_array(image, chunks=50), da.from_array(ann, chunks=50))
    assert lazy_train.fingerprint() == model.fingerprint()
    model.save(tmp_path / "m.npz")
    loaded = convpaint.load_model(tmp_path / "m.npz")
    assert (loaded.downsample, loaded.smooth) == (2, 1)
    assert np.array_equal(loaded.segment(image), labels)
    other = convpaint.ConvpaintModel("ilastik", downsample=3, **FAST).train(image, ann)
    assert other.fingerprint() != model.fingerprint()


def test_downsampled_scribbles_keep_thin_strokes():
    ann = np.zeros((1, 1, 9, 10), np.uint8)
    ann[0, 0, 4, :] = 1  # a 1-px line
    ann[0, 0, 0, 0] = 3
    ann[0, 0, 1, 1] = 2  # a tie in block (0, 0): the smaller class
    image = np.zeros((1, 1, 1, 9, 10), np.float32)
    low = downsample_training(image, ann.astype(np.float64), 3)[1]
    assert low.shape == (1, 1, 3, 4)
    assert low[0, 0, 1].tolist() == [1, 1, 1, 1] and low[0, 0, 0, 0] == 2
    lazy = downsample_training(image, da.from_array(ann, chunks=(1, 1, 4, 5)), 3)[1]
    assert np.array_equal(lazy.compute(), low)


def test_streamed_store_records_the_call_scale(coins, tmp_path):
    pytest.importorskip("zarr")
    model, image, _ = coins
    out = tmp_path / "s.ome.zarr"
    group = model.segment(image, out=out, downsample=2)
    assert np.array_equal(group["0"][...], model.segment(image, downsample=2))
    with pytest.raises(FileExistsError, match="another model"):
        model.segment(image, out=out)  # the full-resolution result is another one


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_downsample_is_refused(coins, bad):
    model, image, _ = coins
    with pytest.raises(ValueError, match="downsample"):
        model.segment(image, downsample=bad)
    with pytest.raises(ValueError, match="downsample"):
        convpaint.ConvpaintModel("raw", downsample=bad)


@pytest.mark.parametrize("bad", [-1, 0.5, False])
def test_bad_smooth_is_refused(coins, bad):
    model, image, _ = coins
    with pytest.raises(ValueError, match="smooth"):
        model.segment(image, smooth=bad)
