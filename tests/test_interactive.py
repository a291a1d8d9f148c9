"""The interactive loop: feature cache for retraining, region prediction, cancel, progress."""

import threading

import numpy as np
import pytest
from extractor_checks import require

import convpaint


def _stack(n=4, size=80, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    img = np.empty((n, size, size), np.float32)
    ann = np.zeros((n, size, size), np.uint8)
    for z in range(n):
        disk = (yy - size // 2 - 3 * z) ** 2 + (xx - size // 3) ** 2 < (size // 5) ** 2
        img[z] = np.where(disk, 0.8, 0.2) + rng.normal(0, 0.05, disk.shape)
    ann[1, 3, 5:60] = 1
    ann[1, 40:44, 25:29] = 2
    ann[3, 70, 10:70] = 1
    return img, ann


def _strokes(scribbles):
    """Split scribbles into two sets of strokes: a first set and a second one added later."""
    first = scribbles.copy()
    first[:, 60:] = 0
    return first, scribbles


def _touched(scribbles, tile=32):
    ys, xs = np.nonzero(scribbles)
    return set(zip(ys // tile, xs // tile, strict=True))


def _forests_equal(a, b):
    ta = [e.tree_ for e in a.classifier.estimators_]
    tb = [e.tree_ for e in b.classifier.estimators_]
    return all(
        np.array_equal(x.threshold, y.threshold)
        and np.array_equal(x.feature, y.feature)
        and np.array_equal(x.value, y.value)
        for x, y in zip(ta, tb, strict=True)
    )


def _samples(model, image, scribbles):
    """The (features, labels) a model's classifier is fitted on."""
    seen = {}
    cls = type(model.classifier)  # train fits a fresh copy of the model's classifier
    fit = cls.fit

    def spy(self, x, y):
        seen["x"], seen["y"] = x.copy(), y.copy()
        return fit(self, x, y)

    cls.fit = spy
    try:
        model.train(image, scribbles)
    finally:
        cls.fit = fit
    return seen["x"], seen["y"]


@pytest.mark.parametrize(
    "name, options", [("ilastik", {}), ("vgg16", {"weights": "random"})], ids=["ilastik", "vgg16"]
)
def test_cached_retraining_equals_training_from_scratch(name, options, blobs):
    require(name)
    image, _, scribbles = blobs
    first, more = _strokes(scribbles)
    kwargs = dict(extractor=name, n_estimators=10, tile_size=32, **options)
    session = convpaint.ConvpaintModel(**kwargs)
    session.train(image, first)
    misses = session.feature_cache.misses
    assert misses > 0 and session.feature_cache.nbytes > 0
    # a new array with the same pixels: recognised by content, not identity
    x_cached, y_cached = _samples(session, image.copy(), more)
    old, new = _touched(first), _touched(more)
    # tiles touched before: features from the cache, or (annotations unchanged there) the
    # tile's samples themselves (tests/test_samples_cache.py)
    assert session.feature_cache.hits <= len(old & new) and len(old & new) > 0
    # only tiles touched by the new strokes were featurised
    assert session.feature_cache.misses - misses == len(new - old) > 0
    scratch = convpaint.ConvpaintModel(**kwargs)
    x_scratch, y_scratch = _samples(scratch, image, more)
    assert np.array_equal(x_cached, x_scratch) and np.array_equal(y_cached, y_scratch)
    assert _forests_equal(session, scratch)
    # removing strokes drops their samples; nothing is featurised again
    before = session.feature_cache.misses
    x_less, _ = _samples(session, image, first)
    assert session.feature_cache.misses == before
    x_first, _ = _samples(convpaint.ConvpaintModel(**kwargs), image, first)
    assert np.array_equal(x_less, x_first)


def test_cache_misses_on_changed_pixels_and_respects_budget(blobs):
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("ilastik", n_estimators=5, tile_size=32)
    model.train(image, scribbles)
    hits = model.feature_cache.hits
    changed = image.copy()
    changed[0, 0] += 1.0
    model.train(changed, scribbles)
    assert model.feature_cache.hits == hits  # other content: no stale features
    small = convpaint.ConvpaintModel("ilastik", n_estimators=5, tile_size=32, cache_bytes=2**20)
    small.train(image, scribbles)
    assert 0 < small.feature_cache.nbytes <= 2**20
    off = convpaint.ConvpaintModel("ilastik", n_estimators=5, tile_size=32, cache_bytes=0)
    off.train(image, scribbles)
    assert off.feature_cache.nbytes == 0 and off.feature_cache.hits == 0
    assert np.array_equal(off.segment(image), small.segment(image))


def test_lru_cache_evicts_oldest():
    from convpaint.cache import FeatureCache

    cache = FeatureCache(max_bytes=3 * 800)
    for k in range(3):
        cache.put(k, np.zeros(100))  # 800 bytes each
    cache.get(0)  # 0 is now the most recently used
    cache.put(3, np.zeros(100))
    assert cache.get(1) is None and cache.get(0) is not None and len(cache) == 3
    with pytest.raises(ValueError, match="cache_bytes"):
        FeatureCache(-1)


@pytest.mark.parametrize(
    "region",
    [(slice(10, 70), slice(33, 101)), (slice(None), slice(-20, None)), (50, slice(0, 7)), (-1,)],
    ids=["rectangle", "right-edge", "row", "last-row"],
)
def test_region_equals_crop_of_full_2d(region, blobs):
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("ilastik", n_estimators=10, tile_size=32, cache_bytes=0)
    model.train(image, scribbles)
    full_labels = model.segment(image)
    full_proba = model.predict_proba(image)
    assert np.array_equal(model.segment(image, region=region), full_labels[region])
    assert np.array_equal(
        model.predict_proba(image, region=region), full_proba[(slice(None), *region)]
    )


@pytest.mark.parametrize("volumetric", [False, True], ids=["planes", "volumetric"])
@pytest.mark.parametrize("axes", ["ZYX", "TYX"])
def test_region_of_a_stack_equals_crop_of_full(axes, volumetric):
    if volumetric and axes == "TYX":
        pytest.skip("volumetric mode needs Z")
    image, scribbles = _stack()
    name = "raw" if volumetric else "ilastik"  # (3-D ilastik filters are slow on tiny tiles)
    model = convpaint.ConvpaintModel(
        name, scalings=(1, 2), n_estimators=10, tile_size=32, volumetric=volumetric
    )
    model.train(image, scribbles, axes=axes)
    full = model.segment(image, axes=axes)
    for region in [(2,), (1, slice(20, 60), slice(5, 50)), (slice(1, 3), slice(None), 40)]:
        assert np.array_equal(model.segment(image, axes=axes, region=region), full[region])


def test_region_of_rgb_and_channel_images(blobs):
    image, _, scribbles = blobs
    rgb = np.stack([image, 1 - image, image**2], axis=-1)
    model = convpaint.ConvpaintModel("ilastik", n_estimators=10, tile_size=32).train(rgb, scribbles)
    region = (slice(5, 60), slice(40, 100))
    assert np.array_equal(model.segment(rgb, region=region), model.segment(rgb)[region])


def test_region_errors(blobs):
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("sobel", n_estimators=5).train(image, scribbles)
    with pytest.raises(ValueError, match="3 entries but the image has 2 spatial axes"):
        model.segment(image, region=(1, 2, 3))
    with pytest.raises(IndexError, match="out of range for axis Y of size 96"):
        model.segment(image, region=(96,))
    with pytest.raises(ValueError, match="step 1"):
        model.segment(image, region=(slice(0, 10, 2),))
    with pytest.raises(ValueError, match="empty along axis X"):
        model.segment(image, region=(slice(None), slice(50, 50)))
    with pytest.raises(TypeError, match="integers or slices"):
        model.segment(image, region=(0.5,))


def test_segment_populates_cache_for_the_next_step(blobs):
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("ilastik", n_estimators=10, tile_size=32)
    first, more = _strokes(scribbles)
    model.train(image, first)
    model.segment(image)
    misses = model.feature_cache.misses
    model.train(image, more)  # every tile was featurised by segment: no new features
    labels = model.segment(image)
    assert model.feature_cache.misses == misses
    fresh = convpaint.ConvpaintModel("ilastik", n_estimators=10, tile_size=32, cache_bytes=0)
    assert np.array_equal(labels, fresh.train(image, more).segment(image))


def test_cancel_from_another_thread_and_progress(blobs):
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("ilastik", n_estimators=5, tile_size=32, workers=1)
    model.train(image, scribbles)
    steps = []
    model.segment(image, callback=lambda done, total: steps.append((done, total)))
    assert steps[-1][0] == steps[-1][1] == len(steps) == 12  # 3 x 4 tiles of 32 px
    cancel = threading.Event()
    started = threading.Event()
    result = {}

    def run():
        try:
            result["labels"] = model.segment(
                image, cancel=cancel, callback=lambda done, total: started.set()
            )
        except convpaint.Cancelled as exc:
            result["error"] = exc

    def slow_fit_proba(x, _proba=model.classifier.predict_proba):
        cancel.wait(5)  # hold the first tile until the other thread cancels
        return _proba(x)

    model.classifier.predict_proba = slow_fit_proba
    worker = threading.Thread(target=run)
    worker.start()
    cancel.set()
    worker.join(10)
    del model.classifier.predict_proba
    assert isinstance(result.get("error"), convpaint.Cancelled) and "labels" not in result


def test_cancelled_training_leaves_model_unchanged(blobs):
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("ilastik", n_estimators=5, tile_size=32)
    model.train(image, scribbles)
    before = model.segment(image)
    other = scribbles.copy()
    other[other == 2] = 3
    with pytest.raises(convpaint.Cancelled):
        model.train(image, other, cancel=lambda: True)
    assert np.array_equal(model.segment(image), before) and model.classes_.tolist() == [1, 2]
    with pytest.raises(TypeError, match="threading.Event or a callable"):
        model.segment(image, cancel=5)


def test_coarse_to_fine_agrees_with_classifying_every_pixel(blobs):
    image, truth, scribbles = blobs
    full = convpaint.ConvpaintModel("ilastik", n_estimators=20, coarse_to_fine=1, cache_bytes=0)
    full.train(image, scribbles)
    for stride in (2, 4, 8):
        fast = convpaint.ConvpaintModel("ilastik", n_estimators=20, coarse_to_fine=stride)
        fast.train(image, scribbles)
        assert _forests_equal(full, fast)
        agreement = np.mean(fast.segment(image) == full.segment(image))
        assert agreement >= 0.995, (stride, agreement)
        proba = fast.predict_proba(image)
        assert np.allclose(proba.sum(axis=0), 1, atol=1e-5)
        assert np.array_equal(fast.classes_[proba.argmax(axis=0)], fast.segment(image))
    with pytest.raises(ValueError, match="coarse_to_fine must be a positive integer"):
        convpaint.ConvpaintModel("ilastik", coarse_to_fine=0)


def test_coarse_to_fine_is_saved(blobs, tmp_path):
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("sobel", n_estimators=5, coarse_to_fine=2)
    path = model.train(image, scribbles).save(tmp_path / "m.npz")
    loaded = convpaint.load_model(path)
    assert loaded.coarse_to_fine == 2
    assert np.array_equal(loaded.segment(image), model.segment(image))


def test_threads_with_different_dtypes_do_not_share_the_intensity_range(blobs):
    """The ImageNet path scales by the input dtype's range: per call, not per model."""
    require("vgg16")
    image, _, scribbles = blobs
    rgb = np.stack([image, image, image], axis=-1)
    as_uint8 = (rgb * 255).astype(np.uint8)
    model = convpaint.ConvpaintModel("vgg16", weights="random", normalize="none", n_estimators=5)
    model.train(rgb, scribbles)
    expected = {k: model.predict_proba(x) for k, x in (("f", rgb), ("u", as_uint8))}
    results = {}

    def run(key, x):
        for i in range(3):
            results[key, i] = model.predict_proba(x)

    threads = [threading.Thread(target=run, args=a) for a in (("f", rgb), ("u", as_uint8))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(v, expected[k]) for (k, _), v in results.items())
    with pytest.raises(TypeError, match="callback must be callable"):
        model.segment(rgb, callback=5)


def test_train_reports_progress_and_load_restores_seed(blobs, tmp_path):
    image, _, scribbles = blobs
    steps = []
    model = convpaint.ConvpaintModel("sobel", n_estimators=5, seed=7, tile_size=32)
    model.train(image, scribbles, callback=lambda done, total: steps.append((done, total)))
    assert steps and steps[-1][0] == steps[-1][1] == len(steps) == len(_touched(scribbles))
    assert convpaint.load_model(model.save(tmp_path / "m.npz")).seed == 7
    with pytest.raises(TypeError, match="callback must be callable"):
        model.train(image, scribbles, callback="no")
