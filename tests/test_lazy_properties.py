"""Property tests: lazy (dask, zarr, streamed) == in-memory for every built-in extractor.

Image sizes are drawn around the tile size, the tile's halo and the extractor's alignment
(``k * tile + offset`` with offsets at the halo and tile edges), with dask chunkings of 1, 2
or 3 chunks per axis and uneven last chunks, for gray and RGB planes and a small ZYX stack.
``cellpose`` is left out: its random-weight network is a ViT-L (about 10 s to build and
5-30 s per forward pass on a CPU, see packages/convpaint-cellpose/tests/conftest.py).
"""

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import convpaint

da = pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")

#: name -> (options, tile_size, halo hint).  The halo hints are the tile halos of today's
#: pipelines (receptive field + coarse-to-fine margin, rounded to the patch size); they only
#: steer the drawn sizes towards the boundaries, the assertions do not depend on them.
EXTRACTORS = {
    "raw": ({}, 64, 5),
    "ilastik": ({}, 64, 55),
    "vgg16": ({"weights": "random"}, 64, 12),
    # 70 = 5 patches of 14; one tile at a time, no cache: ViT-S tiles take 0.3 GiB each
    "dinov2": ({"weights": "random", "workers": 1, "cache_bytes": 0}, 70, 84),
}


def _image(shape, seed):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * 200 + 20).astype(np.uint8)


def _train(name, rgb, tile_size):
    options = EXTRACTORS[name][0]
    shape = (80, 80, 3) if rgb else (80, 80)
    ann = np.zeros((80, 80), np.uint8)
    ann[5:9, 4:70] = 1
    ann[40:44, 10:76] = 2
    ann[60:62, 20:30] = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "random weights"
        model = convpaint.ConvpaintModel(
            name, n_estimators=4, seed=3, tile_size=tile_size, **options
        )
    return model.train(_image(shape, 0), ann)


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(name, rgb):
        if (name, rgb) not in cache:
            cache[name, rgb] = _train(name, rgb, EXTRACTORS[name][1])
        return cache[name, rgb]

    return get


@st.composite
def cases(draw, name, max_k=2):
    """(kind, shape, chunks): kind in gray/rgb/zyx; sizes k * tile + offset."""
    _, tile, halo = EXTRACTORS[name]
    edges = sorted({o for o in (1, halo - 1, halo, halo + 1, tile - halo, tile - 1, tile) if o > 0})
    kind = draw(st.sampled_from(["gray", "rgb", "zyx"]))

    def length():
        k = draw(st.integers(0, max_k))
        off = draw(st.one_of(st.sampled_from(edges), st.integers(1, tile + halo)))
        return max(16, k * tile + off)

    yx = (length(), length())
    shape = {"gray": yx, "rgb": (*yx, 3), "zyx": (2, *yx)}[kind]
    chunks = []
    for n in shape:
        count = draw(st.integers(1, 3))
        chunks.append(min(n, -(-n // count) + draw(st.integers(0, 1))))  # uneven last chunk
    return kind, shape, tuple(chunks)


def check_lazy_equals_in_memory(model, kind, shape, chunks, streamed_proba=True):
    axes = "ZYX" if kind == "zyx" else None
    image = _image(shape, sum(shape))
    labels = model.segment(image, axes=axes)
    proba = model.predict_proba(image, axes=axes)
    lazy_image = da.from_array(image, chunks=chunks)
    got = model.segment(lazy_image, axes=axes)
    assert isinstance(got, da.Array)
    got = got.compute()
    assert got.dtype == labels.dtype
    assert np.array_equal(got, labels), f"{np.sum(got != labels)} labels differ"
    got_proba = model.predict_proba(lazy_image, axes=axes).compute()
    assert got_proba.shape == proba.shape
    err = np.abs(got_proba - proba).max()
    assert err <= 1e-6, f"probabilities differ by up to {err}"
    with tempfile.TemporaryDirectory() as tmp:
        store = zarr.create_array(
            store=str(Path(tmp) / "in.zarr"), shape=shape, chunks=chunks, dtype="u1"
        )
        store[...] = image
        group = model.segment(store, axes=axes, out=Path(tmp) / "labels.zarr")
        streamed = group["0"][...]
        assert np.array_equal(streamed, labels), f"{np.sum(streamed != labels)} streamed differ"
        if streamed_proba:
            group = model.predict_proba(lazy_image, axes=axes, out=Path(tmp) / "proba.zarr")
            assert np.abs(group["0"][...] - proba).max() <= 1e-6
        assert np.array_equal(store[...], image)  # the input is untouched


def _run(models, name, case):
    kind, shape, chunks = case
    model = models(name, kind == "rgb")
    check_lazy_equals_in_memory(model, kind, shape, chunks, streamed_proba=name != "dinov2")


@settings(max_examples=6, deadline=None, derandomize=True)
@given(case=cases("raw"))
@example(case=("gray", (64 + 3, 64 + 3), (34, 67)))  # last tile smaller than the halo
@example(case=("gray", (64 * 2 + 3, 90), (50, 45)))  # ... with three tiles
def test_raw(models, case):
    _run(models, "raw", case)


@settings(max_examples=6, deadline=None, derandomize=True)
@given(case=cases("ilastik"))
@example(case=("gray", (64 + 20, 64 + 20), (42, 84)))  # 2 tiles, last < halo: IndexError
@example(case=("rgb", (100, 64 * 2 + 20, 3), (50, 60, 3)))
@example(case=("zyx", (2, 70, 64 * 2 + 54), (1, 35, 61)))
def test_ilastik(models, case):
    _run(models, "ilastik", case)


@settings(max_examples=5, deadline=None, derandomize=True)
@given(case=cases("vgg16"))
@example(case=("gray", (90, 64 * 2 + 6), (45, 45)))  # 3 tiles, last < halo: off alignment
@example(case=("gray", (64 + 11, 64 + 13), (75, 39)))
def test_vgg16(models, case):
    _run(models, "vgg16", case)


@settings(max_examples=1, deadline=None, derandomize=True)  # ~1 s per ViT-S call on a CPU
@given(case=cases("dinov2", max_k=0))  # sizes up to tile + halo: 1 to 3 tiles
@example(case=("gray", (70 + 20, 96), (45, 96)))  # 2 tiles, last < halo
@example(case=("gray", (70 * 2 + 10, 96), (75, 96)))  # tile (70) < halo (84), 3 tiles
def test_dinov2(models, case):
    _run(models, "dinov2", case)


@pytest.mark.parametrize(
    "name, shape, chunks",
    [("ilastik", (200, 574), (200, 287)), ("vgg16", (200, 598), (100, 200))],
    ids=["ilastik-200x574", "vgg16-200x598"],
)
def test_reported_sizes_with_default_tiles(name, shape, chunks):
    """The reproductions of issue 14 item 4, with the extractors' default tile sizes."""
    check_lazy_equals_in_memory(_train(name, False, tile_size=None), "gray", shape, chunks)
