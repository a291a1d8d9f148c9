"""The convpaint command line, run as a user would (subprocess for the entry point)."""

import subprocess
import sys

import numpy as np
import pytest
import tifffile

from convpaint.cli import main


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "convpaint.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_extractors_table_lists_plugins_and_packages():
    out = run("extractors")
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split()[1] for line in out.stdout.splitlines()[1:]}
    assert rows["raw"] == "convpaint-core"
    assert rows["sobel"] == "convpaint-testplugin"
    for name, dist in [("ilastik", "convpaint-ilastik"), ("vgg16", "convpaint-vgg")]:
        if name in rows:
            assert rows[name] == dist


@pytest.fixture
def files(tmp_path, blobs):
    image, truth, scribbles = blobs
    tifffile.imwrite(tmp_path / "img.tif", image)
    np.save(tmp_path / "img2.npy", image[::-1].copy())
    tifffile.imwrite(tmp_path / "ann.tif", scribbles)
    return tmp_path, truth


def test_train_then_segment_one_and_many(files):
    d, truth = files
    assert (
        main(
            [
                "train",
                str(d / "img.tif"),
                "-a",
                str(d / "ann.tif"),
                "-o",
                str(d / "m.npz"),
                "-e",
                "sobel",
                "-q",
            ]
        )
        == 0
    )
    assert (
        main(["segment", str(d / "m.npz"), str(d / "img.tif"), "-o", str(d / "lab.png"), "-q"]) == 0
    )
    import imageio.v3 as iio

    labels = iio.imread(d / "lab.png")
    assert labels.shape == truth.shape and np.mean(labels == truth) > 0.9
    out = d / "many"
    assert (
        main(
            [
                "segment",
                str(d / "m.npz"),
                str(d / "img.tif"),
                str(d / "img2.npy"),
                "-o",
                str(out),
                "--proba",
                "-q",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == ["img2_proba.tif", "img_proba.tif"]
    assert tifffile.imread(out / "img_proba.tif").shape == (2, *truth.shape)


def test_bad_input_exits_nonzero_with_one_line_and_writes_nothing(files, capsys):
    d, _ = files
    bad = d / "bad.tif"
    tifffile.imwrite(bad, np.zeros((5, 5), np.float32))
    code = main(
        ["train", str(d / "img.tif"), "-a", str(bad), "-o", str(d / "m.npz"), "-e", "sobel", "-q"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "does not match" in err
    assert not (d / "m.npz").exists()
    (d / "corrupt.npz").write_bytes(b"garbage")
    code = main(["segment", str(d / "corrupt.npz"), str(d / "img.tif"), "-o", str(d / "o.tif")])
    assert code == 2 and "model file" in capsys.readouterr().err
    assert not (d / "o.tif").exists()
    code = main(
        [
            "train",
            str(d / "img.tif"),
            "-a",
            str(d / "ann.tif"),
            "-o",
            str(d / "m.npz"),
            "-e",
            "nope",
        ]
    )
    assert code == 2 and "no extractor named 'nope'" in capsys.readouterr().err
    # no temporary files are left behind
    assert not [p for p in d.iterdir() if p.name.startswith(".")]


def test_demo_writes_labels_and_overlay(tmp_path):
    import convpaint

    extractor = "ilastik" if "ilastik" in convpaint.list_extractors() else "raw"
    out = run("demo", "-o", str(tmp_path), "-e", extractor)
    assert out.returncode == 0, out.stderr
    assert "train" in out.stdout and "segment" in out.stdout
    labels = tifffile.imread(tmp_path / "coins_labels.tif")
    assert labels.shape == (303, 384)
    assert (tmp_path / "coins_overlay.png").stat().st_size > 1000
    # coins cover roughly a third of the picture
    assert 0.2 < np.mean(labels == 2) < 0.5


def test_outputs_beside_the_inputs_and_reruns_into_own_store_are_allowed(files, capsys):
    """The checks refuse only real overlaps: results written into the inputs' folder, and a
    second run into a store this project wrote (complete: nothing recomputed)."""
    d, truth = files
    argv = ["train", str(d / "img.tif"), "-a", str(d / "ann.tif"), "-o", str(d / "m.npz")]
    assert main([*argv, "-e", "sobel", "-q"]) == 0
    image = tifffile.imread(d / "img.tif")
    args = ["segment", str(d / "m.npz"), str(d / "img.tif"), str(d / "img2.npy"), "-o", str(d)]
    assert main([*args, "-q"]) == 0
    assert (d / "img_labels.tif").is_file() and (d / "img2_labels.tif").is_file()
    assert np.array_equal(tifffile.imread(d / "img.tif"), image)
    store = d / "res.ome.zarr"
    for _ in range(2):
        assert main(["segment", str(d / "m.npz"), str(d / "img.tif"), "-o", str(store), "-q"]) == 0
    import zarr

    labels = zarr.open_group(str(store), mode="r")["0"][...]
    assert labels.shape == truth.shape and np.mean(labels == truth) > 0.9
    assert capsys.readouterr().err == ""


def test_segment_help_documents_what_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["segment", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "two inputs of the same name" in text and "not a Convpaint store" in text
    assert "inside an input" in text and ".ome.zarr" in text
