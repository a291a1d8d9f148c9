"""Projects with a feature upsampler: ``[model] upsampler`` / ``upsampler_options`` in
project.toml, checked on load, used when the project trains; ``project init --upsampler``.

A tiny patch extractor (``patch4``: 4x4 patch statistics, no torch) stands in for a ViT.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile

import convpaint
from convpaint.builtin_upsamplers import GuidedUpsampler
from convpaint.cli import main
from convpaint.loading import load_model
from convpaint.project import Project
from convpaint.testing import NearestPatches, PatchStats, registered
from convpaint.upsampler_settings import (
    declared_upsampler_options,
    extractor_patch_size,
    takes_upsampler,
)


@pytest.fixture
def patch4() -> Iterator[str]:
    """``patch4`` and ``nearest-test`` registered in fresh registries (forgotten afterwards)."""
    with registered(extractors=[PatchStats], upsamplers=[NearestPatches]):
        yield "patch4"


def _images(folder: Path, n: int = 2, shape=(48, 64)) -> list[np.ndarray]:
    folder.mkdir(exist_ok=True)
    truths = []
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for i in range(n):
        rng = np.random.default_rng(i)
        truth = np.where((yy - 20 - 3 * i) ** 2 + (xx - 30) ** 2 < 13**2, 2, 1).astype(np.uint8)
        image = np.where(truth == 2, 0.8, 0.2) + rng.normal(0, 0.05, shape)
        tifffile.imwrite(folder / f"im{i}.tif", image.astype(np.float32))
        truths.append(truth)
    return truths


def _annotate(project: Project, truths: list[np.ndarray]) -> None:
    for i, truth in enumerate(truths):
        ann = np.zeros_like(truth)
        ann[::5, ::5] = truth[::5, ::5]
        project.save_annotations(f"im{i}", ann)


def _set_model_settings(project: Project, **model) -> None:
    settings = dict(project.settings)
    settings["model"] = {**settings["model"], **model}
    project.save_settings(settings)


def test_patch_sizes_are_read_without_building(patch4):
    assert extractor_patch_size("patch4") == 4 and takes_upsampler("patch4") is True
    assert takes_upsampler("raw") is False
    assert extractor_patch_size("raw+patch4") == 4  # a part with patches is enough
    assert takes_upsampler("not-installed") is None
    assert declared_upsampler_options("nearest-test") == NearestPatches.options
    assert declared_upsampler_options("guided") == GuidedUpsampler.options
    assert declared_upsampler_options("not-installed") is None


def test_project_trains_with_its_upsampler(patch4, tmp_path):
    truths = _images(tmp_path / "src")
    project = Project.init(
        tmp_path / "proj",
        images=str(tmp_path / "src" / "*.tif"),
        extractor="patch4",
        model={"n_estimators": 10},
        upsampler="guided",
        upsampler_options={"radius": 2},
    )
    text = project.settings_path.read_text()
    assert 'upsampler = "guided"' in text and "radius = 2" in text
    reopened = Project(project.path)
    assert reopened.settings["model"]["upsampler_options"] == {"radius": 2}

    _annotate(reopened, truths)
    model = reopened.train()
    assert model.upsampler.name == "guided" and model.upsampler.radius == 2
    saved = load_model(reopened.model_path)
    assert saved.upsampler.name == "guided" and saved.upsampler.get_options()["radius"] == 2
    assert reopened.segment() and not reopened.needs_training

    # another upsampler (or none) is another model: training is due again
    _set_model_settings(reopened, upsampler="nearest-test", upsampler_options={"gain": 2})
    assert Project(project.path).needs_training
    model = Project(project.path).train()
    assert model.upsampler.name == "nearest-test" and model.upsampler.gain == 2


def test_project_features_are_the_upsamplers(patch4, tmp_path):
    """The trained model's features are those of ConvpaintModel(..., upsampler=...)."""
    truths = _images(tmp_path / "src", n=1)
    kwargs = {"upsampler": "nearest-test", "upsampler_options": {"gain": 3}}
    project = Project.init(
        tmp_path / "proj", images=str(tmp_path / "src" / "*.tif"), extractor="patch4", **kwargs
    )
    _annotate(project, truths)
    image = tifffile.imread(tmp_path / "src" / "im0.tif")
    got = project.train().compute_features(image)
    want = convpaint.ConvpaintModel("patch4", **kwargs).compute_features(image)
    plain = convpaint.ConvpaintModel("patch4").compute_features(image)
    np.testing.assert_array_equal(got, want)
    assert not np.allclose(got, plain)


@pytest.mark.parametrize(
    ("model", "pattern"),
    [
        (
            {"upsampler": "nope"},
            r"\[model\] upsampler 'nope' is not installed \(installed: .*guided",
        ),
        ({"upsampler": 3}, r"upsampler must be an upsampler name.*got 3"),
        ({"upsampler_options": {"radius": 2}}, r"upsampler_options given without an upsampler"),
        ({"upsampler": "guided", "upsampler_options": 2}, r"upsampler_options must be a table"),
        (
            {"upsampler": "nearest-test", "upsampler_options": {"gain": 9}},
            r"upsampler_options: .*'gain'.*1\.\.3",
        ),
        (
            {"upsampler": "nearest-test", "upsampler_options": {"scale": 2}},
            r"upsampler_options: .*'scale'",
        ),
    ],
)
def test_bad_upsampler_settings_are_refused_on_load(patch4, tmp_path, model, pattern):
    project = Project.init(tmp_path / "proj", extractor="patch4")
    text = project.settings_path.read_text()
    import tomli_w

    table = tomli_w.dumps({"model": model})
    project.settings_path.write_text(text.replace("[model]\n", "") + "\n" + table)
    with pytest.raises(ValueError, match=pattern) as err:
        Project(project.path)
    assert "project.toml" in str(err.value)


def test_an_upsampler_needs_patch_features(patch4, tmp_path):
    with pytest.raises(ValueError, match=r"'raw' has none"):
        Project.init(tmp_path / "proj", extractor="raw", upsampler="guided")
    assert not (tmp_path / "proj" / "project.toml").exists()
    project = Project.init(tmp_path / "ok", extractor="raw")
    with pytest.raises(ValueError, match=r"upsampler 'guided' applies to extractors with patch"):
        _set_model_settings(project, upsampler="guided")


def test_cli_init_with_upsampler(patch4, tmp_path, capsys):
    _images(tmp_path / "src", n=1)
    images = str(tmp_path / "src" / "*.tif")
    args = ["project", "init", str(tmp_path / "proj"), "--images", images, "-e", "patch4"]
    assert main([*args, "--upsampler", "guided", "--upsampler-option", "radius=3"]) == 0
    assert "upsampler guided" in capsys.readouterr().out
    model = Project(tmp_path / "proj").settings["model"]
    assert model == {"upsampler": "guided", "upsampler_options": {"radius": 3}}

    bad = ["project", "init", str(tmp_path / "bad"), "-e", "patch4", "--upsampler", "nope"]
    assert main(bad) == 2
    assert "'nope' is not installed" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "project.toml").exists()
    lone = ["project", "init", str(tmp_path / "lone"), "--upsampler-option", "radius=3"]
    assert main(lone) == 2
    assert "--upsampler-option needs --upsampler" in capsys.readouterr().err
