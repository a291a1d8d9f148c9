"""The memory guard refuses work that cannot fit before allocating anything large."""

import tracemalloc

import numpy as np
import pytest

import convpaint
from convpaint import memory


@pytest.fixture
def trained(blobs):
    image, _, scribbles = blobs
    return convpaint.ConvpaintModel("raw", n_estimators=5).train(image, scribbles), image


def test_broadcast_giant_image_refused_without_allocating(trained):
    model, _ = trained
    huge = np.broadcast_to(np.float32(1), (100000, 100000))  # 37 GiB as float32
    tracemalloc.start()
    try:
        with pytest.raises(convpaint.InsufficientMemoryError) as err:
            model.segment(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20, f"allocated {peak / 2**20:.0f} MiB before refusing"
    msg = str(err.value)
    assert "normalised image 37.3 GiB" in msg and "available" in msg
    assert "region=" in msg and "zarr" in msg
    assert isinstance(err.value, MemoryError)


def test_refusal_follows_available_memory(trained, monkeypatch):
    model, image = trained
    expected = model.segment(image)
    monkeypatch.setattr(memory, "available_bytes", lambda: 10_000)
    with pytest.raises(convpaint.InsufficientMemoryError, match="only 0 MiB is available"):
        model.segment(image)
    with pytest.raises(convpaint.InsufficientMemoryError, match="segmenting"):
        model.predict_proba(image)
    monkeypatch.setattr(memory, "available_bytes", lambda: None)  # unknown: let it run
    assert np.array_equal(model.segment(image), expected)
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**40)
    assert np.array_equal(model.segment(image), expected)


def test_training_refused_and_model_unchanged(trained, blobs, monkeypatch):
    model, image = trained
    _, _, scribbles = blobs
    before = model.segment(image)
    monkeypatch.setattr(memory, "available_bytes", lambda: 10_000)
    with pytest.raises(convpaint.InsufficientMemoryError, match="training on this image"):
        model.train(image, scribbles)
    monkeypatch.undo()
    assert model.n_channels_ == 1 and np.array_equal(model.segment(image), before)


def test_volumetric_tiles_refused_naming_tile_size_and_workers(monkeypatch):
    """The reported OOM (ilastik volumetric on 20x384x384 uint8, killed at 24 GB) now fits
    in 3 GB (tiles sized by their bytes, issue 9); with less, tile options are named."""
    import threading

    pytest.importorskip("convpaint_ilastik")
    volume = np.zeros((20, 384, 384), np.uint8)
    scribbles = np.zeros(volume.shape, np.uint8)
    scribbles[10, 5, 5:50], scribbles[10, 60, 10:60] = 1, 2
    model = convpaint.ConvpaintModel("ilastik", volumetric=True, workers=2)
    monkeypatch.setattr(memory, "available_bytes", lambda: 3 * 2**30)
    stop = threading.Event()
    stop.set()  # past the memory check, the first tile stops the call
    with pytest.raises(convpaint.Cancelled):
        model.train(volume, scribbles, axes="ZYX", cancel=stop)
    monkeypatch.setattr(memory, "available_bytes", lambda: 200 * 2**20)
    with pytest.raises(convpaint.InsufficientMemoryError) as err:
        model.train(volume, scribbles, axes="ZYX")
    msg = str(err.value)
    assert "tile(s) in flight" in msg and "tile_size=" in msg and "workers=1" in msg
    assert "region=" not in msg  # the image itself is small: only tile options help
    assert model.n_channels_ is None  # nothing happened


def test_region_prediction_of_a_plane_fits_where_the_stack_does_not(monkeypatch):
    rng = np.random.default_rng(0)
    stack = rng.random((8, 512, 512), dtype=np.float32)  # 1 MiB per plane
    ann = np.zeros(stack.shape, np.uint8)
    ann[2, 10, 10:100], ann[2, 300, 10:100] = 1, 2
    model = convpaint.ConvpaintModel("raw", n_estimators=5, cache_bytes=0, workers=1)
    model.train(stack, ann, axes="ZYX")
    # the stack: 8 MiB normalised + 2 MiB labels + ~4 MiB per tile; a plane: ~5 MiB
    monkeypatch.setattr(memory, "available_bytes", lambda: 8 * 2**20)
    with pytest.raises(convpaint.InsufficientMemoryError, match="region="):
        model.segment(stack, axes="ZYX")
    assert model.segment(stack, axes="ZYX", region=(2,)).shape == (512, 512)


def test_available_bytes_is_plausible():
    avail = memory.available_bytes()
    assert avail is None or 0 < avail < 2**50
