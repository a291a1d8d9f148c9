"""``convpaint evaluate`` with feature upsamplers: ``upsampler=NAME`` and ``upsampler.K=V`` in
an extractor spec, labels, the CSV's options, up-front errors (issue 19, item 2).

A tiny patch extractor (``patch4``: 4x4 patch statistics, no torch) stands in for a ViT.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile

from convpaint.evaluation import evaluate, make_extractor_runs, open_dataset
from convpaint.evaluation.cli import add_parser
from convpaint.evaluation.extractor_runs import default_model_factory, upsampler_label
from convpaint.testing import PatchStats, registered


@pytest.fixture
def patch4() -> Iterator[str]:
    """``patch4`` (4x4 patch statistics, like a ViT) registered for the test."""
    with registered(extractors=[PatchStats]):
        yield "patch4"


@pytest.fixture
def disks_dataset(tmp_path: Path) -> Path:
    """Two gray images of bright disks whose edges cut through patches (semantic masks)."""
    root = tmp_path / "disks"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    yy, xx = np.mgrid[:70, :90]
    for i in range(2):
        rng = np.random.default_rng(i)
        mask = np.zeros((70, 90), np.uint8)
        for _ in range(5):
            cy, cx, r = rng.integers(10, 60), rng.integers(10, 80), rng.integers(5, 13)
            mask[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = 1
        image = np.where(mask == 1, 0.8, 0.2) + rng.normal(0, 0.05, mask.shape)
        np.save(root / "images" / f"{i:03d}.npy", image.astype(np.float32))
        tifffile.imwrite(root / "masks" / f"{i:03d}.tif", mask)
    return root


def test_spec_with_upsampler_labels_and_options() -> None:
    runs = make_extractor_runs(
        [
            "dinov2",
            "dinov2:upsampler=guided",
            "dinov2:upsampler=jafar,upsampler.weights=random,upsampler.window=16",
        ],
        ["dinov2:weights=random"],
    )
    assert [r.label for r in runs] == [
        "dinov2 (random filters)",
        "dinov2 (random filters) + guided",
        "dinov2 (random filters) + jafar (random weights, window=16)",
    ]
    assert [r.upsampler for r in runs] == [None, "guided", "jafar"]
    assert all(r.kwargs == {"weights": "random"} for r in runs)  # not extractor options
    assert dict(runs[2].upsampler_options) == {"weights": "random", "window": 16}
    assert json.loads(runs[0].options_json) == {"weights": "random"}  # as before
    assert json.loads(runs[2].options_json) == {
        "weights": "random",
        "upsampler": "jafar",
        "upsampler_options": {"weights": "random", "window": 16},
    }
    assert upsampler_label("guided", {"eps": 0.1}) == "guided (eps=0.1)"
    shared = make_extractor_runs(["dinov2"], ["dinov2:upsampler=guided,upsampler.radius=2"])
    assert shared[0].upsampler == "guided" and dict(shared[0].upsampler_options) == {"radius": 2}


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("dinov2:upsampler.radius=2", "without upsampler=NAME"),
        ("dinov2:upsampler=3", "upsampler must be a name"),
        ("dinov2:upsampler=guided,upsampler.=1", "needs a name"),
    ],
)
def test_spec_errors(spec: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_extractor_runs([spec])


def test_guided_vs_bilinear_interleaved(patch4: str, disks_dataset: Path, tmp_path: Path) -> None:
    runs = make_extractor_runs([patch4, f"{patch4}:upsampler=guided,upsampler.eps=0.001"])
    factory = default_model_factory(runs)
    assert factory(runs[0], 0).upsampler is None
    up = factory(runs[1], 0).upsampler
    assert up.name == "guided" and up.get_options()["eps"] == 0.001
    out = tmp_path / "out"
    csv_path = evaluate(open_dataset(disks_dataset), runs, [2.5], out, progress=False)
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["extractor"] for r in rows] == [r.label for r in runs] * 2  # interleaved
    assert not any(r["error"] for r in rows)
    opts = [json.loads(r["extractor_options"]) for r in rows]
    assert opts[0] == {} and opts[1]["upsampler"] == "guided"
    bilinear = [float(r["miou"]) for r in rows if r["extractor"] == runs[0].label]
    guided = [float(r["miou"]) for r in rows if r["extractor"] == runs[1].label]
    assert min(bilinear) > 0.5
    # disk edges cut through the 4-px patches: the image-guided features follow them
    assert np.mean(guided) > np.mean(bilinear)


def test_cli_upsampler_errors_before_any_row(
    patch4: str, disks_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="convpaint")
    add_parser(parser.add_subparsers(dest="command"))

    def run(spec: str, out: Path) -> int:
        argv = ["evaluate", str(disks_dataset), "-e", spec, "-o", str(out), "--no-progress"]
        args = parser.parse_args(argv)
        return args.func(args)

    assert run("raw:upsampler=guided", tmp_path / "a") == 2  # raw has no patch features
    assert "patch" in capsys.readouterr().err
    assert not (tmp_path / "a" / "results.csv").exists()
    assert run(f"{patch4}:upsampler=no-such-upsampler", tmp_path / "b") == 2
    assert "no-such-upsampler" in capsys.readouterr().err
    assert run(f"{patch4}:upsampler=guided,upsampler.radius=99", tmp_path / "c") == 2
    assert "radius" in capsys.readouterr().err
    assert run(f"{patch4}:upsampler=guided", tmp_path / "d") == 0
    with (tmp_path / "d" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows and {r["extractor"] for r in rows} == {f"{patch4} + guided"}
