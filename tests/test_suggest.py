"""Uncertainty maps and suggested boxes (convpaint.suggest)."""

import dask.array as da
import numpy as np
import pytest

from convpaint.suggest import Suggestion, suggest, uncertainty


def _proba(u: np.ndarray) -> np.ndarray:
    """Two-class probabilities whose uncertainty is ``u`` (p_max - p_second = 1 - u)."""
    p = (1 + (1 - u)) / 2
    return np.stack([p, 1 - p]).astype(np.float32)


def _overlap(a: Suggestion, b: Suggestion) -> bool:
    for x, y in zip(a.box, b.box, strict=True):
        if isinstance(x, slice):
            if x.stop <= y.start or y.stop <= x.start:
                return False
        elif x != y:
            return False
    return True


# -- uncertainty -------------------------------------------------------------------------
def test_uncertainty_values():
    two = np.array([[0.5, 1.0, 0.0, 0.7], [0.5, 0.0, 1.0, 0.3]])
    np.testing.assert_allclose(uncertainty(two), [1.0, 0.0, 0.0, 0.6], atol=1e-6)
    three = np.array([[0.5, 0.2, 1 / 3], [0.3, 0.3, 1 / 3], [0.2, 0.5, 1 / 3]])
    np.testing.assert_allclose(uncertainty(three), [0.8, 0.8, 1.0], atol=1e-6)
    assert uncertainty(three).dtype == np.float32
    np.testing.assert_array_equal(uncertainty(np.ones((1, 4, 5))), np.zeros((4, 5)))
    np.testing.assert_allclose(uncertainty(three.T, axis=-1), uncertainty(three), atol=1e-7)


def test_uncertainty_range_and_shape():
    rng = np.random.default_rng(1)
    p = rng.random((4, 6, 7, 8))
    p /= p.sum(0)
    u = uncertainty(p)
    assert u.shape == (6, 7, 8) and u.min() >= 0 and u.max() <= 1
    s = np.sort(p, axis=0)
    np.testing.assert_allclose(u, 1 - (s[-1] - s[-2]), atol=1e-6)


def test_uncertainty_dask_is_lazy_and_equal():
    rng = np.random.default_rng(2)
    p = rng.random((3, 50, 40))
    p /= p.sum(0)
    lazy = uncertainty(da.from_array(p, chunks=(1, 16, 16)))  # classes split over chunks
    assert isinstance(lazy, da.Array) and lazy.shape == (50, 40)
    np.testing.assert_array_equal(lazy.compute(), uncertainty(p))


@pytest.mark.parametrize(
    "proba, error",
    [
        (np.array([[0.5, np.nan], [0.5, 0.5]]), "NaN"),
        (np.array([[1.5, 0.0], [-0.5, 1.0]]), r"\[0, 1\]"),
        (np.array([[2.0], [0.0]]), r"\[0, 1\]"),
        (np.float64(0.5), "class axis"),
        (np.zeros((0, 3)), "no classes"),
    ],
)
def test_uncertainty_bad_values(proba, error):
    with pytest.raises(ValueError, match=error):
        uncertainty(proba)


def test_uncertainty_bad_types_and_axis():
    with pytest.raises(ValueError, match="out of range"):
        uncertainty(np.ones((2, 3)) / 2, axis=2)
    with pytest.raises(TypeError, match="complex"):
        uncertainty(np.ones((2, 3), complex))
    with pytest.raises(TypeError, match="not numeric"):
        uncertainty(np.array([["a"], ["b"]]))
    with pytest.raises(ValueError, match="NaN"):  # lazy: checked when computed
        uncertainty(da.from_array(np.array([[np.nan, 1.0], [0.0, 0.0]]))).compute()


# -- suggest on given probabilities -------------------------------------------------------
def test_suggest_finds_the_uncertain_boxes_best_first():
    u = np.zeros((128, 160), np.float32)
    u[80:100, 20:40] = 1.0  # the most uncertain spot
    u[10:30, 100:130] = 0.6
    out = suggest(None, None, 3, proba=_proba(u), box=20)
    assert out[0].box == (slice(80, 100), slice(20, 40))
    assert out[0].score == pytest.approx(1.0) and out[0].center == (89, 29)
    assert out[1].box[0] == slice(10, 30) and 100 <= out[1].box[1].start <= 110
    assert out[1].score == pytest.approx(0.6, abs=1e-5)
    assert [s.score for s in out] == sorted((s.score for s in out), reverse=True)
    assert all(not _overlap(a, b) for i, a in enumerate(out) for b in out[i + 1 :])


def test_suggest_scores_are_box_means_and_boxes_never_overlap():
    from scipy.ndimage import uniform_filter

    for seed in range(5):
        rng = np.random.default_rng(seed)
        u = rng.random((70, 90)).astype(np.float32)
        out = suggest(None, None, 8, proba=_proba(u), box=(16, 12))
        assert len(out) == 8
        means = uniform_filter(u.astype(np.float64), (16, 12), mode="constant")
        valid = means[8 : 70 - 7, 6 : 90 - 5]  # centres of boxes that fit (even sizes)
        assert out[0].score == pytest.approx(valid.max(), abs=1e-5)
        for s in out:
            assert s.score == pytest.approx(u[s.box].mean(), abs=1e-5)
            assert s.box[0].stop - s.box[0].start == 16 and s.box[1].stop - s.box[1].start == 12
        assert all(not _overlap(a, b) for i, a in enumerate(out) for b in out[i + 1 :])


def test_suggest_more_than_possible_and_nothing_uncertain():
    u = np.full((40, 40), 0.5, np.float32)
    out = suggest(None, None, 50, proba=_proba(u), box=20)
    assert 1 <= len(out) <= 4 and len(out) < 50
    assert suggest(None, None, 3, proba=_proba(np.zeros((40, 40)))) == []
    assert suggest(None, None, 0, proba=_proba(u)) == []


def test_suggest_excludes_annotated_pixels():
    u = np.zeros((64, 64), np.float32)
    u[0:16, 0:16] = 1.0
    u[40:56, 40:56] = 0.9
    ann = np.zeros((64, 64), np.uint8)
    ann[0:16, 0:16] = 2  # the most uncertain spot is already annotated
    out = suggest(None, None, 1, proba=_proba(u), box=16, annotations=ann)
    assert out[0].box == (slice(40, 56), slice(40, 56))
    assert suggest(None, None, 1, proba=_proba(u), box=16)[0].box == (slice(0, 16), slice(0, 16))


def test_suggest_stack_boxes_per_plane_and_region():
    u = np.zeros((3, 50, 60), np.float32)
    u[2, 30:40, 5:15] = 1.0
    u[0, 0:10, 0:10] = 0.5
    p = _proba(u)
    out = suggest(None, None, 2, proba=p, box=10)
    assert out[0].box == (2, slice(30, 40), slice(5, 15)) and out[0].center == (2, 34, 9)
    assert out[1].box == (0, slice(0, 10), slice(0, 10))
    assert u[out[0].box].shape == (10, 10)
    # region: plane 0 only, and a window; boxes come back in image coordinates
    out = suggest(None, None, 1, proba=p, box=10, region=(0,))
    assert out[0].box == (0, slice(0, 10), slice(0, 10))
    out = suggest(None, None, 1, proba=p, box=10, region=(slice(1, 3), slice(25, 50), slice(0, 30)))
    assert out[0].box == (2, slice(30, 40), slice(5, 15))
    # deterministic
    assert suggest(None, None, 5, proba=p, box=7) == suggest(None, None, 5, proba=p, box=7)


def test_suggest_default_box_is_a_tile_or_a_quarter():
    u = np.random.default_rng(0).random((300, 300)).astype(np.float32)
    (s,) = suggest(None, None, 1, proba=_proba(u))
    assert s.box[0].stop - s.box[0].start == 64
    (s,) = suggest(None, None, 1, proba=_proba(u[:100, :200]))
    assert s.box[0].stop - s.box[0].start == 25 and s.box[1].stop - s.box[1].start == 25


def test_suggest_bad_inputs():
    p = _proba(np.full((20, 20), 0.5, np.float32))
    with pytest.raises(ValueError, match="n must be"):
        suggest(None, None, -1, proba=p)
    with pytest.raises(TypeError, match="n must be"):
        suggest(None, None, 2.5, proba=p)
    with pytest.raises(ValueError, match="box sizes"):
        suggest(None, None, proba=p, box=0)
    with pytest.raises(TypeError, match="box sizes"):
        suggest(None, None, proba=p, box=2.0)
    with pytest.raises(ValueError, match="annotations shape"):
        suggest(None, None, proba=p, annotations=np.zeros((20, 21), np.uint8))
    with pytest.raises(TypeError, match="integer labels"):
        suggest(None, None, proba=p, annotations=np.zeros((20, 20)))
    with pytest.raises(ValueError, match="keep axis"):
        suggest(None, None, proba=p, region=(3,))
    with pytest.raises(ValueError, match="proba must be"):
        suggest(None, None, proba=p[:, 0])
    with pytest.raises(ValueError, match="model and an image"):
        suggest(None, np.zeros((20, 20)))
    with pytest.raises(ValueError, match="does not match"):
        suggest(None, np.zeros((20, 21)), proba=p)
    with pytest.raises(ValueError, match="NaN"):
        suggest(None, None, proba=np.full((2, 20, 20), np.nan))


# -- suggest with a model ------------------------------------------------------------------
def _textures():
    rng = np.random.default_rng(0)
    img = np.empty((96, 224), np.float32)  # room for 3 x 3 boxes of 32 px in the third
    img[:, :64], img[:, 64:128], img[:, 128:] = 0.2, 0.8, 0.5  # the third is never annotated
    img += rng.normal(0, 0.05, img.shape).astype(np.float32)
    ann = np.zeros(img.shape, np.uint8)
    ann[20:76:8, 8:56] = 1
    ann[20:76:8, 72:120] = 2
    return img, ann


def test_suggest_with_a_model_points_at_the_unseen_texture():
    from convpaint import ConvpaintModel

    img, ann = _textures()
    model = ConvpaintModel("ilastik", n_estimators=30, progress=False, workers=1)
    model.train(img, ann)
    out = suggest(model, img, 3, annotations=ann, box=32)
    assert len(out) == 3
    for s in out:  # every box mostly in the unseen texture
        assert s.box[1].start >= 128 - 8, s
    assert out[0].score > 0.2
    # a precomputed proba gives the same boxes; region= predicts only that part
    proba = model.predict_proba(img)
    assert suggest(None, img, 3, annotations=ann, box=32, proba=proba) == out
    (r,) = suggest(model, img, 1, annotations=ann, box=32, region=(slice(None), slice(0, 128)))
    assert r.box[1].stop <= 128 and r.score < out[0].score


def test_suggest_with_a_model_on_a_stack():
    from convpaint import ConvpaintModel

    img, ann = _textures()
    rng = np.random.default_rng(1)
    known = np.where(np.arange(img.shape[1]) < 128, img, 0.2 + rng.normal(0, 0.05, img.shape))
    stack = np.stack([known.astype(np.float32), img])  # plane 1 holds the unseen texture
    sann = np.stack([ann, ann])
    # raw intensities: per-plane normalisation would shift the textures between planes
    model = ConvpaintModel("ilastik", n_estimators=30, progress=False, workers=1, normalize="none")
    model.train(stack, sann, axes="ZYX")
    out = suggest(model, stack, 3, annotations=sann, axes="ZYX", box=32)
    assert [s.box[0] for s in out] == [1, 1, 1] and all(s.box[2].start >= 120 for s in out)
    assert out[-1].score > 0.3
    (s,) = suggest(model, stack, 1, annotations=sann, axes="ZYX", box=32, region=(0,))
    assert s.box[0] == 0 and s.score < out[-1].score
    assert stack[s.box].shape == (32, 32)


def test_suggest_region_crops_annotations_of_any_array_type():
    u = np.zeros((2, 40, 40), np.float32)
    u[1, 0:10, 0:10] = 1.0
    u[1, 20:30, 20:30] = 0.8
    ann = np.zeros((2, 40, 40), np.uint8)
    ann[1, 0:10, 0:10] = 1
    for a in (ann, ann.tolist(), da.from_array(ann, chunks=(1, 16, 16))):
        (s,) = suggest(None, None, 1, proba=_proba(u), box=10, annotations=a, region=(1,))
        assert s.box == (1, slice(20, 30), slice(20, 30))
