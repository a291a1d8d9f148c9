"""Lazy inputs (dask, zarr): the same statistics, samples, labels and probabilities as in memory."""

import numpy as np
import pytest

import convpaint
from convpaint import lazy
from convpaint.normalize import normalize

da = pytest.importorskip("dask.array")

FAST = {"sigmas": (0.7, 1.6), "n_estimators": 8, "tile_size": 32}


def _image(shape, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random(shape).astype(np.float32)
    return (base * 200 + 20).astype(np.uint8)


def _scribbles(spatial_shape, planes):
    ann = np.zeros(spatial_shape, np.uint8)
    for p in planes:
        ann[p][..., 3:6, 4:40] = 1
        ann[p][..., 30:33, 10:50] = 2
    return ann


CASES = [  # (name, image shape, axes, scribbled planes as index tuples into the spatial shape)
    ("gray", (70, 90), None, [()]),
    ("rgb", (70, 90, 3), None, [()]),
    ("zyx", (4, 70, 90), "ZYX", [(1,), (2,)]),
    ("tyx", (3, 70, 90), "TYX", [(0,)]),
]


@pytest.mark.parametrize("name, shape, axes, planes", CASES, ids=[c[0] for c in CASES])
def test_lazy_equals_in_memory(name, shape, axes, planes):
    image = _image(shape)
    spatial = shape[:-1] if name == "rgb" else shape
    ann = _scribbles(spatial, planes)
    ref = convpaint.ConvpaintModel("ilastik", **FAST).train(image, ann, axes=axes)
    labels, proba = ref.segment(image, axes=axes), ref.predict_proba(image, axes=axes)
    chunks = tuple(max(1, n // 3 + 1) for n in shape)  # odd chunks, not tile-aligned
    lazy_image = da.from_array(image, chunks=chunks)
    model = convpaint.ConvpaintModel("ilastik", **FAST)
    model.train(lazy_image, da.from_array(ann, chunks=chunks[: ann.ndim]), axes=axes)
    out = model.segment(lazy_image, axes=axes)
    assert isinstance(out, da.Array)
    assert np.array_equal(out.compute(), labels)  # same samples -> same forest -> same labels
    lazy_proba = model.predict_proba(lazy_image, axes=axes).compute()
    assert lazy_proba.dtype == np.float32 and np.array_equal(lazy_proba, proba)


def test_zarr_array_input_and_region(tmp_path):
    zarr = pytest.importorskip("zarr")
    image = _image((80, 100))
    ann = _scribbles(image.shape, [()])
    model = convpaint.ConvpaintModel("ilastik", **FAST).train(image, ann)
    store = zarr.create_array(
        str(tmp_path / "in.zarr"), shape=image.shape, chunks=(25, 40), dtype="u1"
    )
    store[...] = image
    ref = model.segment(image)
    assert lazy.is_lazy(store)
    assert np.array_equal(np.asarray(model.segment(store)), ref)
    region = (slice(10, 50), slice(33, 99))
    assert np.array_equal(model.segment(store, region=region).compute(), ref[region])


@pytest.mark.parametrize("mode", ["image", "stack"])
def test_reduction_statistics_equal_in_memory(mode):
    rng = np.random.default_rng(3)
    canon = (rng.normal(500, 90, (2, 3, 2, 530, 61))).astype(np.uint16)  # > 2 row blocks
    mean, std = lazy.moments(da.from_array(canon, chunks=(1, 2, 1, 97, 23)), mode)
    expected = normalize(canon, mode)
    got = (canon.astype(np.float32) - mean) / std
    assert np.array_equal(got, expected)


def test_lazy_refuses_nan_and_complex():
    model = convpaint.ConvpaintModel("ilastik", **FAST)
    model.train(_image((40, 60)), _scribbles((40, 60), [()]))
    bad = np.full((40, 60), np.nan, np.float32)
    with pytest.raises(ValueError, match="NaN"):
        model.segment(da.from_array(bad)).compute()
    with pytest.raises(TypeError, match="complex"):
        model.segment(da.zeros((40, 60), dtype=np.complex64))


def test_distributed_local_cluster_same_labels(tmp_path):
    distributed = pytest.importorskip("distributed")
    zarr = pytest.importorskip("zarr")
    from convpaint.cli import main

    image = _image((96, 128))
    ann = _scribbles(image.shape, [()])
    model = convpaint.ConvpaintModel("ilastik", **FAST).train(image, ann)
    ref = model.segment(image)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        out = model.segment(da.from_array(image, chunks=(48, 64)), scheduler=client)
        labels = out.compute(scheduler=client)
        workers = client.run(lambda: 1)
        # streamed output written by the worker processes; the CLI with --scheduler ADDRESS
        model.segment(image, out=tmp_path / "api.zarr", scheduler=client)
        model.save(tmp_path / "m.npz")
        np.save(tmp_path / "in.npy", image)
        argv = ["segment", str(tmp_path / "m.npz"), str(tmp_path / "in.npy"), "-q"]
        argv += ["-o", str(tmp_path / "cli.ome.zarr"), "--scheduler", cluster.scheduler_address]
        assert main(argv) == 0
    assert len(workers) == 2
    assert np.array_equal(labels, ref)
    for name in ("api.zarr", "cli.ome.zarr"):
        assert np.array_equal(zarr.open_group(str(tmp_path / name), mode="r")["0"][...], ref)


def test_volumetric_lazy_and_streamed_equal_in_memory(tmp_path):
    pytest.importorskip("zarr")
    image = _image((6, 44, 52))
    ann = _scribbles(image.shape, [(2,), (3,)])
    kwargs = {**FAST, "tile_size": 24}
    ref = convpaint.ConvpaintModel("ilastik", volumetric=True, **kwargs)
    ref.train(image, ann, axes="ZYX")
    labels = ref.segment(image, axes="ZYX")
    model = convpaint.ConvpaintModel("ilastik", volumetric=True, **kwargs)
    model.train(da.from_array(image, chunks=(2, 20, 30)), ann, axes="ZYX")
    lazy_image = da.from_array(image, chunks=(3, 25, 25))
    assert np.array_equal(model.segment(lazy_image, axes="ZYX").compute(), labels)
    group = model.segment(lazy_image, "ZYX", out=tmp_path / "vol.zarr")
    assert group["0"].chunks[0] == image.shape[0]  # a block holds every plane
    assert np.array_equal(group["0"][...], labels)
