"""Files written by convpaint get the mode any new file gets (0666 & ~umask), not 0600."""

import os
import stat

import numpy as np
import pytest
import tifffile

import convpaint
from convpaint.cli import main
from convpaint.io import current_umask, write_image


@pytest.fixture(params=[0o022, 0o027, 0o002], ids=["022", "027", "002"])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_without_changing(umask):
    assert current_umask() == umask
    assert current_umask() == umask


@pytest.mark.parametrize("name", ["a.tif", "a.npy", "a.png"])
def test_write_image_follows_umask(tmp_path, umask, name):
    path = write_image(tmp_path / name, np.zeros((8, 8), np.uint8))
    assert mode(path) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left


def test_model_file_and_cli_outputs_follow_umask(tmp_path, umask, blobs):
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("raw", n_estimators=5).train(image, scribbles)
    assert mode(model.save(tmp_path / "m.npz")) == 0o666 & ~umask
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "ann.tif", scribbles)
    assert (
        main(
            ["train", str(tmp_path / "img.tif"), "-a", str(tmp_path / "ann.tif")]
            + ["-o", str(tmp_path / "cli.npz"), "-e", "raw", "-q"]
        )
        == 0
    )
    out = tmp_path / "out"
    assert (
        main(
            ["segment", str(tmp_path / "cli.npz"), str(tmp_path / "img.tif"), "-o", str(out), "-q"]
        )
        == 0
    )
    for path in [tmp_path / "cli.npz", *out.iterdir()]:
        assert mode(path) == 0o666 & ~umask, path
