"""One pipeline: cancel=, callback=, region=, annotations and resume behave alike for NumPy,
dask and zarr inputs (issue 15 item 2, issue 14 items 3, 4 and 11)."""

import re
import threading

import numpy as np
import pytest

import convpaint

da = pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")

FAST = {"sigmas": (0.7, 1.6), "n_estimators": 6, "tile_size": 32, "workers": 1}
KINDS = ["numpy", "dask", "zarr"]


def _image(shape, seed=0):
    return (np.random.default_rng(seed).random(shape) * 200 + 20).astype(np.uint8)


def _ann(shape):
    ann = np.zeros(shape, np.uint8)
    ann[..., 3:6, 4:60] = 1
    ann[..., 40:44, 10:70] = 2
    return ann


@pytest.fixture(scope="module")
def trained():
    image = _image((80, 80))
    return convpaint.ConvpaintModel("ilastik", **FAST).train(image, _ann(image.shape)), image


def _as(kind, image, tmp_path):
    """``image`` as a NumPy, dask or zarr array (zarr written under tmp_path)."""
    if kind == "numpy":
        return image
    if kind == "dask":
        return da.from_array(image, chunks=tuple(max(1, n // 2 + 1) for n in image.shape))
    store = zarr.create_array(
        store=str(tmp_path / "in.zarr"), shape=image.shape, chunks=(30,) * image.ndim, dtype="u1"
    )
    store[...] = image
    return store


class Reads:
    """A read-only array that records which planes (axis 0) ``__getitem__`` touched."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.planes = set()

    def __getitem__(self, index):
        first = index[0] if isinstance(index, tuple) else index
        if first is Ellipsis:
            first = slice(None)
        self.planes.update(np.atleast_1d(np.arange(self.shape[0])[first]).tolist())
        return self.array[index]


# -- (a) callback ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dask", "zarr"])
def test_train_callback_like_in_memory(kind, tmp_path):
    image = _image((80, 96))
    ann = _ann(image.shape)
    ref, got = [], []
    convpaint.ConvpaintModel("ilastik", **FAST).train(image, ann, callback=lambda *a: ref.append(a))
    model = convpaint.ConvpaintModel("ilastik", **FAST)
    model.train(_as(kind, image, tmp_path), ann, callback=lambda *a: got.append(a))
    assert got, "train() with a lazy image never called callback"
    assert all(a[0] <= b[0] for a, b in zip(got, got[1:], strict=False))
    assert got[-1][0] == got[-1][1] == ref[-1][1]


@pytest.mark.parametrize("kind", KINDS)
def test_streamed_segment_callback_ends_at_total(trained, kind, tmp_path):
    model, image = trained
    calls = []
    x = _as(kind, image, tmp_path)
    model.segment(x, out=tmp_path / "o.zarr", callback=lambda *a: calls.append(a))
    assert calls and calls[-1][0] == calls[-1][1]
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


# -- (b) cancel -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("call", ["segment", "predict_proba", "segment-out", "train"])
def test_set_cancel_event_raises_cancelled(trained, kind, call, tmp_path):
    model, image = trained
    x = _as(kind, image, tmp_path)
    cancel = threading.Event()
    cancel.set()
    before = model.segment(image)
    with pytest.raises(convpaint.Cancelled):
        if call == "train":
            model.train(x, _ann(image.shape)[::-1].copy(), cancel=cancel)
        elif call == "segment-out":
            model.segment(x, out=tmp_path / "o.zarr", cancel=cancel)
        else:
            getattr(model, call)(x, cancel=cancel)
    assert np.array_equal(model.segment(image), before)  # the model is as it was
    if kind == "zarr":
        assert np.array_equal(x[...], image)


# -- (c) region reads only what it needs --------------------------------------------------
@pytest.mark.parametrize("normalize", ["image", "none"])
def test_region_plane_reads_only_that_plane(normalize):
    stack = _image((8, 48, 56), seed=4)
    ann = np.zeros(stack.shape, np.uint8)
    ann[2] = _ann((48, 56))
    model = convpaint.ConvpaintModel("ilastik", normalize=normalize, **FAST)
    model.train(stack, ann, axes="ZYX")
    expected = model.segment(stack, axes="ZYX")[5]
    control = Reads(stack)
    da.from_array(control, chunks=(1, 48, 56))[5].compute()
    assert control.planes == {5}  # the recorder itself counts only what dask reads
    reads = Reads(stack)
    got = model.segment(da.from_array(reads, chunks=(1, 48, 56)), "ZYX", region=(5,))
    assert _differ(got, expected) == 0
    assert reads.planes == {5}, f"read planes {sorted(reads.planes)} for region=(5,)"


# -- (d) float annotations ------------------------------------------------------------------
@pytest.mark.parametrize("lazy_ann", [False, True], ids=["numpy-ann", "dask-ann"])
def test_lazy_training_accepts_integral_float_annotations(lazy_ann):
    image = _image((64, 72))
    ann = _ann(image.shape).astype(np.float32)
    ref = convpaint.ConvpaintModel("ilastik", **FAST).train(image, ann)
    model = convpaint.ConvpaintModel("ilastik", **FAST)
    model.train(da.from_array(image, chunks=(40, 40)), da.from_array(ann) if lazy_ann else ann)
    assert _differ(model.segment(image), ref.segment(image)) == 0


# -- (e) unknown chunk sizes --------------------------------------------------------------
@pytest.mark.parametrize("call", ["segment", "train"])
def test_unknown_chunk_sizes_work_or_are_refused_clearly(trained, call):
    model, image = trained
    x = da.from_array(image, chunks=(40, 40))
    x = x[x.sum(axis=1) >= 0]  # boolean indexing: every row kept, row chunks unknown
    assert np.isnan(x.shape[0])
    try:
        if call == "train":
            got = convpaint.ConvpaintModel("ilastik", **FAST).train(x, _ann(image.shape))
            got = got.segment(image)
        else:
            got = np.asarray(model.segment(x))
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert re.search(r"unknown.*(chunk|shape)|compute_chunk_sizes", message), message
    else:
        assert _differ(got, model.segment(image)) == 0


# -- (f) predict_proba with region ---------------------------------------------------------
@pytest.mark.parametrize("kind", ["dask", "zarr"])
def test_predict_proba_region_equals_crop(trained, kind, tmp_path):
    model, image = trained
    region = (slice(7, 61), slice(30, 80))
    expected = model.predict_proba(image)[(slice(None), *region)]
    got = np.asarray(model.predict_proba(_as(kind, image, tmp_path), region=region))
    assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-6


# -- (g) resume never returns another input's or model's result ------------------------
def _differ(a, b) -> int:
    """Pixels where two label images differ (a number keeps failure messages short)."""
    return int(np.sum(np.asarray(a) != np.asarray(b)))


def _check_resumed(got, expected) -> None:
    """None (refused clearly) or the labels of the second run, never the first run's."""
    n = 0 if got is None else _differ(got, expected)
    assert n == 0, f"{n} pixels of the store are not the second run's labels"


def _resumed(model, image, store, axes=None):
    """The store's labels after ``segment(image, out=store)``, or None when refused clearly."""
    try:
        return model.segment(image, axes, out=store)["0"][...]
    except (FileExistsError, ValueError) as exc:
        assert store.name in str(exc), f"the error does not name the store: {exc}"
        return None


def test_resume_with_other_image_same_shape(trained, tmp_path):
    model, image = trained
    other = _image(image.shape, seed=9)
    assert not np.array_equal(model.segment(other), model.segment(image))
    model.segment(image, out=tmp_path / "s.zarr")
    got = _resumed(model, other, tmp_path / "s.zarr")
    _check_resumed(got, model.segment(other))


def test_resume_with_swapped_labels_model(trained, tmp_path):
    model, image = trained
    ann = _ann(image.shape)
    swapped = np.where(ann == 1, 2, np.where(ann == 2, 1, 0)).astype(np.uint8)
    model2 = convpaint.ConvpaintModel("ilastik", **FAST).train(image, swapped)
    assert not np.array_equal(model2.segment(image), model.segment(image))
    model.segment(image, out=tmp_path / "s.zarr")
    got = _resumed(model2, image, tmp_path / "s.zarr")
    _check_resumed(got, model2.segment(image))


def test_cancelled_run_resumed_with_other_image(trained, tmp_path):
    model, _ = trained
    image, other = _image((4, 96, 96), seed=1), _image((4, 96, 96), seed=2)
    cancel = threading.Event()
    with pytest.raises(convpaint.Cancelled):  # 36 blocks in batches: cancelled after the first
        model.segment(
            image, "ZYX", out=tmp_path / "s.zarr", cancel=cancel, callback=lambda *a: cancel.set()
        )
    got = _resumed(model, other, tmp_path / "s.zarr", "ZYX")
    _check_resumed(got, model.segment(other, axes="ZYX"))
