"""OpenCV backend: agreement with scipy, any plane size, tiling, and the GIL released."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from ilastik_testutils import smooth_noise

import convpaint
from convpaint_ilastik import IlastikFilters, extractor, fast, opencv
from convpaint_ilastik.filters import FILTERS, filter_bank
from convpaint_ilastik.kernels import kernel_radius

pytestmark = pytest.mark.skipif(not opencv.available(), reason="OpenCV is not installed")
SIGMAS = (0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0)
#: measured: max |opencv - scipy| per family <= 8e-7 of the family's largest |value|
#: (difference of Gaussians on DSB image 001; 3e-7 elsewhere; benchmarks/filter_backends.py):
#: float32 accumulation in OpenCV, float64 in scipy
REL_BOUND = 2e-6


@pytest.mark.parametrize("name", FILTERS)
def test_each_family_matches_scipy(name: str) -> None:
    x = smooth_noise((180, 237), seed=11) * 10
    ref = [out for _, _, out in filter_bank(x, (name,), SIGMAS)]
    got = [out for _, _, out in opencv.filter_bank(x, (name,), SIGMAS)]
    scale = max(float(np.abs(r).max()) for r in ref)
    diff = max(float(np.abs(g - r).max()) for g, r in zip(got, ref, strict=True))
    assert [g.shape for g in got] == [r.shape for r in ref]
    assert 0 < diff <= REL_BOUND * scale, (diff, scale)  # > 0: really another implementation


def test_crop_is_the_full_result_cropped() -> None:
    x = smooth_noise((150, 170), seed=12)
    crop = (slice(31, 97), slice(60, 161))
    full = list(opencv.filter_bank(x, FILTERS, (0.7, 3.5)))
    part = list(opencv.filter_bank(x, FILTERS, (0.7, 3.5), crop))
    for (f, s, a), (g, t, b) in zip(full, part, strict=True):
        assert (f, s) == (g, t)
        assert np.array_equal(a[(slice(None), *crop)], b), (f, s)


@pytest.mark.parametrize("width", [61, 64, 65, 127, 128, 129, 200, 257])
@pytest.mark.parametrize("sigma, order", [(0.3, (1, 0)), (1.0, (0, 0)), (1.0, (0, 2))])
def test_correlate_does_not_depend_on_the_extent(width: int, sigma: float, order: tuple) -> None:
    """Pixels whose kernel just fits in a window are bit-identical to those of a wider
    array (OpenCV's scalar row tail rounds differently: hence the mirrored tail)."""
    x = smooth_noise((40, 400), seed=13)
    r = kernel_radius(sigma, max(order))  # the halo a tile gets: exactly the reach
    full = opencv.correlate(x, sigma, order)
    window = opencv.correlate(np.ascontiguousarray(x[:, 50 - r : 50 + width + r]), sigma, order)
    assert np.array_equal(window[:, r : r + width], full[:, 50 : 50 + width])


SHAPES = [(1, 1), (2, 3), (20, 37), (3, 200), (200, 3), (5, 127), (127, 5), (1, 300), (97, 131)]


@pytest.mark.parametrize("shape", SHAPES)
def test_any_plane_size(shape: tuple[int, int]) -> None:
    x = np.random.default_rng(0).random((1, *shape), dtype=np.float32)
    a = IlastikFilters(backend="opencv").extract(x)
    b = IlastikFilters(backend="scipy").extract(x)
    assert a.shape == b.shape == (56, *shape) and a.dtype == np.float32
    assert np.all(np.isfinite(a))
    assert np.abs(a - b).max() <= REL_BOUND * max(float(np.abs(b).max()), 1.0)


def test_extract_interior_equals_extract_cropped() -> None:
    ex = IlastikFilters(backend="opencv", sigmas=[1.0, 5.0])
    h = ex.padding
    plane = smooth_noise((1, 2 * h + 45, 2 * h + 77), seed=14)
    inner = ex.extract_interior(plane, (h, h))
    assert np.array_equal(inner, ex.extract(plane)[:, h:-h, h:-h])


@pytest.mark.parametrize("backend", ["opencv", "scipy"])
def test_model_on_interior_features_equals_model_on_cropped_ones(backend: str) -> None:
    """The core asks planes for their interior (no own padding): same model, same result."""
    image = smooth_noise((150, 190), seed=16) * 100
    scribbles = np.zeros(image.shape, np.uint8)
    scribbles[20, 10:180], scribbles[120, 10:180] = 1, 2
    models = []
    for interior in (True, False):
        m = convpaint.ConvpaintModel(
            "ilastik", sigmas=[0.7, 3.5], backend=backend, tile_size=64, seed=0, progress=False
        )
        if not interior:  # the base class's: the crop of extract (padding and all)
            m.extractor.extract_interior = convpaint.FeatureExtractor.extract_interior.__get__(
                m.extractor
            )
        models.append(m.train(image, scribbles))
    np.testing.assert_array_equal(models[0].predict_proba(image), models[1].predict_proba(image))


def test_volumes_use_scipy() -> None:
    vol = smooth_noise((1, 9, 30, 33), seed=15)
    a = IlastikFilters(backend="opencv", sigmas=[0.7, 1.6]).extract_volume(vol)
    b = IlastikFilters(backend="scipy", sigmas=[0.7, 1.6]).extract_volume(vol)
    assert np.array_equal(a, b)


def test_auto_prefers_opencv_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    assert IlastikFilters().plane_backend == "opencv"
    assert IlastikFilters().get_options()["backend"] == "auto"  # stored as given
    assert IlastikFilters(backend="opencv").get_options()["backend"] == "opencv"
    monkeypatch.setattr(opencv, "available", lambda: False)
    expected = "fastfilters" if fast.available() else "scipy"
    assert extractor.resolve_backend() == expected
    assert IlastikFilters().plane_backend == expected
    with pytest.raises(ImportError, match=r"convpaint-ilastik\[fast\]"):
        IlastikFilters(backend="opencv")


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="2-D planes"):
        next(opencv.filter_bank(np.zeros((2, 3, 4), np.float32), ("gaussian",), (1.0,)))
    with pytest.raises(ValueError, match="unknown filter 'blur'"):
        next(opencv.filter_bank(np.zeros((8, 8), np.float32), ("blur",), (1.0,)))


def _image() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:64, :99]
    truth = 1 + (((yy - 30) ** 2 + (xx - 50) ** 2) < 18**2)
    image = np.where(truth == 2, 0.8, 0.2) + rng.normal(0, 0.05, truth.shape)
    scribbles = np.zeros(truth.shape, np.uint8)
    scribbles[3, 5:95] = 1
    scribbles[28:32, 42:58] = 2
    return image.astype(np.float32), scribbles


def test_model_tiled_equals_untiled() -> None:
    image, scribbles = _image()
    kw = dict(extractor="ilastik", backend="opencv", n_estimators=10)
    small = convpaint.ConvpaintModel(tile_size=32, **kw).train(image, scribbles)
    big = convpaint.ConvpaintModel(tile_size=4096, **kw).train(image, scribbles)
    assert small.extractor.plane_backend == "opencv"
    assert np.array_equal(small.compute_features(image), big.compute_features(image))
    assert np.array_equal(small.predict_proba(image), big.predict_proba(image))


def _ticks_inside_call(fn) -> int:
    """Main-thread loop iterations that ran while ``fn`` ran in another thread."""
    window: list[float] = []

    def worker() -> None:
        window.append(time.perf_counter())
        fn()
        window.append(time.perf_counter())

    thread = threading.Thread(target=worker)
    ticks: list[float] = []
    thread.start()
    while thread.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.0005)
    thread.join()
    start, stop = window
    eps = 0.02  # the worker's own Python steps around the call
    return sum(start + eps < t < stop - eps for t in ticks)


def test_filtering_releases_the_gil() -> None:
    """A Python thread keeps running while OpenCV filters (a GIL holder would stop it)."""
    x = smooth_noise((1600, 1600), seed=16)
    assert _ticks_inside_call(lambda: opencv.correlate(x, 30.0, (1, 1))) > 0  # ~0.5 s


@pytest.mark.skipif(not fast.available(), reason="fastfilters2 is not installed")
def test_gil_probe_detects_a_gil_holder() -> None:
    """The probe above can fail: fastfilters2 holds the GIL, so no tick falls inside it."""
    x = smooth_noise((1024, 1024), seed=17)
    assert _ticks_inside_call(lambda: fast.compute_filters(x, 10.0)) == 0
