"""`convpaint segment` options: --instances, --min-size, --smooth, --downsample."""

import numpy as np
import pytest
import tifffile
from scipy import ndimage

import convpaint
from convpaint.cli import main


def _disks(shape=(96, 128)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = np.zeros(shape, np.float32)
    centres = [(30, 30), (30, 52), (70, 90), (70, 30)]  # the first two touch
    for cy, cx in centres:
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= 12**2] = 1.0
    return image + np.random.default_rng(0).normal(0, 0.05, shape).astype(np.float32)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    image = _disks()
    ann = np.zeros(image.shape, np.uint8)
    ann[5:8, 5:120] = 1
    ann[90:93, 5:120] = 1
    ann[68:72, 85:95] = 2
    ann[28:32, 25:35] = 2
    model = convpaint.ConvpaintModel(
        "ilastik", n_estimators=10, sigmas=(0.7, 1.6), class_names={1: "background", 2: "disk"}
    )
    model.train(image, ann).save(tmp / "m.npz")
    tifffile.imwrite(tmp / "disks.tif", image)
    return tmp


def test_instances_split_touching_disks(model_file, tmp_path):
    out = tmp_path / "inst.tif"
    args = ["segment", str(model_file / "m.npz"), str(model_file / "disks.tif"), "-o", str(out)]
    assert main([*args, "--instances", "-q"]) == 0
    ids = tifffile.imread(out)
    assert ids.dtype == np.int32 and ids.shape == (96, 128)
    assert len(np.unique(ids)) - 1 == 4  # 4 disks, the touching pair split
    assert ids[30, 30] != ids[30, 52] and ids[30, 30] > 0 and ids[5, 5] == 0
    sizes = ndimage.sum_labels(np.ones_like(ids), ids, np.unique(ids)[1:])
    assert sizes.min() > 300


def test_min_size_drops_small_objects_and_bad_flags_are_refused(model_file, tmp_path, capsys):
    args = ["segment", str(model_file / "m.npz"), str(model_file / "disks.tif")]
    assert (
        main([*args, "-o", str(tmp_path / "a.tif"), "--instances", "--min-size", "2000", "-q"]) == 0
    )
    assert tifffile.imread(tmp_path / "a.tif").max() == 0  # every disk is smaller
    for extra, words in [
        (["--min-size", "3"], "--min-size needs --instances"),
        (["--instances", "--proba"], "cannot be combined"),
        (["--instances", "--min-size", "-1"], ">= 0"),
        (["--downsample", "0"], "downsample"),
        (["--smooth", "-2"], "smooth"),
    ]:
        assert main([*args, "-o", str(tmp_path / "b.tif"), *extra, "-q"]) == 2
        assert words in capsys.readouterr().err
        assert not (tmp_path / "b.tif").exists()
    assert main([*args, "-o", str(tmp_path / "c.ome.zarr"), "--instances", "-q"]) == 2
    assert "zarr" in capsys.readouterr().err


def test_smooth_and_downsample_match_the_api(model_file, tmp_path):
    model = convpaint.load_model(model_file / "m.npz")
    image = tifffile.imread(model_file / "disks.tif")
    args = ["segment", str(model_file / "m.npz"), str(model_file / "disks.tif")]
    out = tmp_path / "s.tif"
    assert main([*args, "-o", str(out), "--smooth", "2", "--downsample", "2", "-q"]) == 0
    assert np.array_equal(tifffile.imread(out), model.segment(image, smooth=2, downsample=2))
