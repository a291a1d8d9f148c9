"""``--option`` checked against the extractor's schema; ``convpaint extractors --options``."""

import json

import pytest
import tifffile

import convpaint
from convpaint.cli import main
from convpaint.cli_common import extractor_options


@pytest.fixture
def files(tmp_path, blobs):
    image, truth, scribbles = blobs
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "ann.tif", scribbles)
    return tmp_path


def train(d, *extra, image="img.tif"):
    argv = ["train", str(d / image), "-a", str(d / "ann.tif"), "-o", str(d / "m.npz"), "-q"]
    return main([*argv, *extra])


def test_extractors_options_prints_the_schema(capsys):
    assert main(["extractors", "--options", "sobel"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sobel (convpaint-testplugin): ")
    assert lines[1].split() == ["NAME", "TYPE", "DEFAULT", "HELP"]
    rows = {line.split()[0]: line for line in lines[2:] if not line.startswith(" ")}
    assert rows["sigma"].split()[:3] == ["sigma", "int", "2"]
    assert rows["gradients"].split()[:3] == ["gradients", "bool", "true"]
    assert rows["mode"].split()[:3] == ["mode", "str", "reflect"]
    assert "allowed: 1..4" in "\n".join(lines) and "one of reflect, nearest" in "\n".join(lines)
    assert main(["extractors", "--options", "raw"]) == 0
    assert "takes no options" in capsys.readouterr().out
    assert main(["extractors", "--options", "nope"]) == 2
    assert "no extractor named 'nope'" in capsys.readouterr().err


def test_extractors_options_shows_an_upsamplers_schema(capsys, files):
    assert main(["extractors", "--options", "guided"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("upsampler guided (convpaint-core): ")
    rows = {line.split()[0]: line for line in lines[2:] if not line.startswith(" ")}
    assert rows["radius"].split()[:3] == ["radius", "int", "1"]
    assert rows["guide"].split()[:3] == ["guide", "str", "mean"]
    # --upsampler-option is checked against that schema before anything is read
    code = train(files, "-e", "raw", "--upsampler", "guided", "--upsampler-option", "radius=99")
    assert code == 2
    assert "option 'radius' of upsampler 'guided'" in capsys.readouterr().err


def test_bad_option_is_refused_before_any_input_is_read(files, capsys):
    d = files
    # the image does not exist: the option error comes first
    code = train(d, "-e", "sobel", "--option", "sigma=9", image="missing.tif")
    err = capsys.readouterr().err.strip()
    assert (
        code == 2
        and err == "convpaint: error: option 'sigma' of extractor 'sobel': 9 is outside 1..4"
    )
    code = train(d, "-e", "sobel", "--option", "sgima=3", image="missing.tif")
    err = capsys.readouterr().err
    assert code == 2 and "has no option 'sgima' (did you mean 'sigma'?)" in err
    assert "its options: sigma, gradients, mode" in err
    code = train(d, "-e", "sobel", "--option", "gradients=maybe")
    assert code == 2 and "option 'gradients' of extractor 'sobel'" in capsys.readouterr().err
    code = train(d, "-e", "raw", "--option", "x=1")
    assert code == 2 and "extractor 'raw' has no option 'x'; its options: none" in (
        capsys.readouterr().err
    )
    assert not (d / "m.npz").exists()


def test_valid_options_are_coerced_and_stored(files, capsys):
    d = files
    opts = ["--option", "sigma=3", "--option", "gradients=false", "--option", "mode=nearest"]
    assert train(d, "-e", "sobel", *opts) == 0
    capsys.readouterr()
    assert main(["info", str(d / "m.npz"), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["extractor"]["options"]["sobel"] == {
        "sigma": 3,
        "gradients": False,
        "mode": "nearest",
    }
    model = convpaint.load_model(d / "m.npz")
    assert model.extractor.n_features == 1 and model.extractor.padding == 11
    image = tifffile.imread(d / "img.tif")
    assert model.compute_features(image).shape == (1, *image.shape)


def test_combination_options_are_keyed_by_part(files, capsys):
    d = files
    assert train(d, "-e", "sobel+raw", "--option", "sobel.sigma=1") == 0
    model = convpaint.load_model(d / "m.npz")
    assert model.extractor.get_options() == {
        "sobel": {"sigma": 1, "gradients": True, "mode": "reflect"},
        "raw": {},
    }
    code = train(d, "-e", "sobel+raw", "--option", "sigma=1")
    assert code == 2 and "must name its part: sobel.sigma, raw.sigma" in capsys.readouterr().err
    code = train(d, "-e", "sobel+raw", "--option", "nope.sigma=1")
    assert code == 2 and "'nope' is not a part of extractor 'sobel+raw'" in (
        capsys.readouterr().err
    )
    code = train(d, "-e", "sobel+raw", "--option", "sobel.sigma=0")
    assert code == 2 and "option 'sigma' of extractor 'sobel': 0 is outside 1..4" in (
        capsys.readouterr().err
    )


def test_extractor_options_parsing():
    assert extractor_options("sobel", ["sigma=4", "mode=nearest"]) == {
        "sigma": 4,
        "mode": "nearest",
    }
    assert extractor_options("sobel", ["sobel.sigma=4"]) == {"sigma": 4}  # the prefix is allowed
    assert extractor_options("sobel+raw", ['sobel={"sigma": 3}']) == {"sobel": {"sigma": 3}}
    assert extractor_options("sobel", None) == {}
    with pytest.raises(ValueError, match="is not KEY=VALUE"):
        extractor_options("sobel", ["sigma"])


@pytest.mark.skipif("vgg16" not in convpaint.list_extractors(), reason="convpaint-vgg")
def test_vgg16_layers_are_checked_by_the_schema(files, capsys):
    code = train(files, "-e", "vgg16", "--option", "layers=[0,3]", image="missing.tif")
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("convpaint: error: option 'layers' of extractor 'vgg16': 3")
    assert "one of 0, 2, 5, 7" in err
    assert extractor_options("vgg16+ilastik", ["vgg16.layers=[0,2]", "ilastik.sigmas=1,2"]) == {
        "vgg16": {"layers": [0, 2]},
        "ilastik": {"sigmas": [1.0, 2.0]},
    }
