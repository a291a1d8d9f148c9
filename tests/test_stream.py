"""Streamed zarr/OME-Zarr output: equals the in-memory result, resumes after a killed run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import convpaint
from convpaint import stream
from convpaint.cli import main

zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")

FAST = {"sigmas": (0.7, 1.6), "n_estimators": 8, "tile_size": 32}


@pytest.fixture
def trained():
    rng = np.random.default_rng(1)
    image = (rng.random((3, 96, 120)) * 255).astype(np.uint8)
    ann = np.zeros(image.shape, np.uint8)
    ann[1, 3:6, 4:60] = 1
    ann[1, 40:44, 10:90] = 2
    model = convpaint.ConvpaintModel("ilastik", **FAST).train(image, ann, axes="ZYX")
    return model, image


def test_streamed_equals_in_memory_with_ome_metadata(trained, tmp_path):
    model, image = trained
    out = tmp_path / "out.ome.zarr"
    group = stream.write_prediction(
        model, image, out, "ZYX", what=("labels", "proba"), scale={"Z": 2.0, "Y": 0.5, "X": 0.5}
    )
    assert np.array_equal(group["0"][...], model.segment(image, axes="ZYX"))
    assert np.array_equal(group["probabilities/0"][...], model.predict_proba(image, axes="ZYX"))
    assert group.attrs["convpaint"]["complete"] and stream.MARKERS not in group
    ms = group.attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["z", "y", "x"]
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [2.0, 0.5, 0.5]
    reader = pytest.importorskip("ome_zarr.reader")
    io = pytest.importorskip("ome_zarr.io")
    node = next(iter(reader.Reader(io.parse_url(str(out)))()))
    assert node.data[0].shape == image.shape
    # the API form: a lazy input written by segment(out=)
    group = model.segment(da.from_array(image, chunks=(1, 50, 50)), "ZYX", out=tmp_path / "b.zarr")
    assert np.array_equal(group["0"][...], model.segment(image, axes="ZYX"))


def test_other_model_refuses_to_overwrite(trained, tmp_path):
    model, image = trained
    stream.write_prediction(model, image, tmp_path / "o.zarr", "ZYX")
    other = convpaint.ConvpaintModel("ilastik", **{**FAST, "n_estimators": 3})
    other.train(image, (image > 128).astype(np.uint8) + 1, axes="ZYX")
    with pytest.raises(FileExistsError, match="another model"):
        stream.write_prediction(other, image, tmp_path / "o.zarr", "ZYX")


CHILD = """
import sys, numpy as np, convpaint
model = convpaint.load_model(sys.argv[1])
image = np.load(sys.argv[2])
model.workers = 1
model.segment(image, "ZYX", out=sys.argv[3], scheduler="synchronous")
"""


def test_resume_after_killed_run_redoes_only_unfinished_blocks(trained, tmp_path, monkeypatch):
    model, _ = trained
    rng = np.random.default_rng(2)
    image = (rng.random((6, 192, 192)) * 255).astype(np.uint8)  # 6 x 6 x 6 = 216 blocks
    model.save(tmp_path / "m.npz")
    np.save(tmp_path / "img.npy", image)
    out = tmp_path / "killed.zarr"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "m.npz"), str(tmp_path / "img.npy"), str(out)]
    )
    markers = out / stream.MARKERS / "c"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if markers.is_dir() and sum(1 for _ in markers.rglob("*") if _.is_file()) >= 20:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    group = zarr.open_group(str(out), mode="r")
    done = group[stream.MARKERS][...]
    assert not group.attrs["convpaint"]["complete"]
    assert 20 <= done.sum() < done.size
    written = []
    real = stream._store_block

    def counting(block, targets, classes, sel, markers_array, idx):
        written.append(idx)
        return real(block, targets, classes, sel, markers_array, idx)

    monkeypatch.setattr(stream, "_store_block", counting)
    group = model.segment(image, "ZYX", out=out)
    assert len(written) == done.size - done.sum()  # finished blocks were not redone
    assert not any(done[idx] for idx in written)
    assert group.attrs["convpaint"]["complete"]
    assert np.array_equal(group["0"][...], model.segment(image, axes="ZYX"))


def test_cli_ome_zarr_in_and_out(trained, tmp_path, capsys):
    model, image = trained
    model.save(tmp_path / "m.npz")
    src = zarr.open_group(str(tmp_path / "in.ome.zarr"), mode="w")
    src.create_array("0", data=image[None], chunks=(1, 1, 40, 40))
    from convpaint.ome import write_multiscales

    write_multiscales(src, "TZYX", {"T": 1.0, "Z": 3.0, "Y": 0.25, "X": 0.25}, {"Y": "micrometer"})
    out = tmp_path / "out.ome.zarr"
    assert (
        main(
            [
                "segment",
                str(tmp_path / "m.npz"),
                str(tmp_path / "in.ome.zarr"),
                "-o",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    group = zarr.open_group(str(out), mode="r")
    assert np.array_equal(group["0"][0], model.segment(image, axes="ZYX"))
    ms = group.attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["t", "z", "y", "x"]
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 3.0, 0.25, 0.25]
    assert ms["axes"][2]["unit"] == "micrometer"
    # a TIFF read through tifffile's zarr view, axes given on the command line
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "in.tif", image, tile=(32, 32))
    tif_out = tmp_path / "tif.ome.zarr"
    argv = ["segment", str(tmp_path / "m.npz"), str(tmp_path / "in.tif"), "-o", str(tif_out)]
    assert main([*argv, "--axes", "ZYX", "--proba", "-q"]) == 0
    group = zarr.open_group(str(tif_out), mode="r")
    assert np.array_equal(group["0"][...], model.segment(image, axes="ZYX"))
    assert group["probabilities/0"].shape == (2, *image.shape)
    assert Path(tif_out).is_dir()


def test_cli_trains_on_ome_zarr_with_its_axes(trained, tmp_path):
    model, image = trained
    tifffile = pytest.importorskip("tifffile")
    from convpaint.ome import write_multiscales

    src = zarr.open_group(str(tmp_path / "in.ome.zarr"), mode="w")
    src.create_array("0", data=image, chunks=(1, 50, 50))
    write_multiscales(src, "ZYX")
    ann = np.zeros(image.shape, np.uint8)
    ann[1, 3:6, 4:60] = 1
    ann[1, 40:44, 10:90] = 2
    tifffile.imwrite(tmp_path / "ann.tif", ann)
    argv = ["train", str(tmp_path / "in.ome.zarr"), "-a", str(tmp_path / "ann.tif")]
    argv += ["-o", str(tmp_path / "cli.npz"), "--option", "sigmas=[0.7,1.6]", "-q"]
    assert main(argv) == 0
    cli_model = convpaint.load_model(tmp_path / "cli.npz")
    assert cli_model.axes_ == "ZYX"
    ref = convpaint.ConvpaintModel("ilastik", sigmas=(0.7, 1.6)).train(image, ann, axes="ZYX")
    assert np.array_equal(cli_model.segment(image), ref.segment(image, axes="ZYX"))
