"""Evaluation pipeline: metrics, dataset layout, resumable CSV runner, report, CLI."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from skimage.draw import disk

from convpaint.cli import build_parser
from convpaint.evaluation import (
    accuracy,
    evaluate,
    extractor_label,
    iou_per_class,
    make_extractor_runs,
    mean_iou,
    open_dataset,
    read_rows,
    summarize,
    write_report,
)
from convpaint.evaluation.cli import add_parser
from convpaint.evaluation.datasets import parse_modalities
from convpaint.evaluation.runner import ScribbleSettings, parse_options, scribble_seed
from convpaint.scribbles import labels_to_classes

DSB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dsb2018_stage1_train"


# -- metrics -------------------------------------------------------------------------------
def test_iou_and_accuracy() -> None:
    truth = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 1, 1]])
    ious = iou_per_class(truth, pred)
    assert ious == {0: pytest.approx(3 / 4), 1: pytest.approx(4 / 5)}
    assert mean_iou(truth, pred) == pytest.approx((3 / 4 + 4 / 5) / 2)
    assert accuracy(truth, pred) == pytest.approx(7 / 8)
    assert np.isnan(iou_per_class(truth, pred, classes=[5])[5])
    assert mean_iou(truth, truth) == 1.0
    with pytest.raises(ValueError):
        iou_per_class(truth, pred[:, :2])


# -- a small synthetic dataset -------------------------------------------------------------
def make_image(seed: int, rgb: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Bright noisy disks (instances) on a dark noisy background."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((64, 72), np.uint16)
    for i in range(1, 7):
        mask[
            disk((rng.integers(8, 56), rng.integers(8, 64)), rng.integers(4, 8), shape=mask.shape)
        ] = i
    img = np.where(mask > 0, 180, 40) + rng.normal(0, 12, mask.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rgb:
        img = np.stack([img, 255 - img, img // 2, np.full_like(img, 255)], -1)  # RGBA
    return img, mask


def make_dataset(root: Path, index_style: str = "list") -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    entries = []
    for i in range(4):
        rgb = i >= 2
        img, mask = make_image(i, rgb)
        stem = f"{i:03d}"
        if i == 1:
            np.save(root / "images" / f"{stem}.npy", img)
            np.save(root / "masks" / f"{stem}.npy", mask)
        else:
            iio.imwrite(root / "images" / f"{stem}.png", img)
            tifffile.imwrite(root / "masks" / f"{stem}.tif", mask)
        entries.append(
            {"index": stem, "n_nuclei": int(mask.max()), "modality": "rgb" if rgb else "gray"}
        )
    iio.imwrite(root / "images" / "nomask.png", np.zeros((8, 8), np.uint8))  # ignored
    if index_style == "list":
        (root / "index.json").write_text(json.dumps(entries))
    elif index_style == "dict":
        (root / "index.json").write_text(json.dumps({e["index"]: e for e in entries}))
    return root


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")


def test_dataset_layout(dataset_dir: Path) -> None:
    ds = open_dataset(dataset_dir)
    assert [s.name for s in ds] == ["000", "001", "002", "003"]
    assert ds.masks == "instance"  # n_nuclei in index.json
    img, mask, axes = ds.samples[3].load(ds.masks)
    assert img.shape == (64, 72, 3) and axes == "YXC"  # alpha dropped
    assert set(np.unique(mask)) == {0, 1}
    img, mask, axes = ds.samples[1].load(ds.masks)
    assert img.shape == (64, 72) and axes == "YX"
    sub = open_dataset(dataset_dir, "rgb:1,gray")
    assert [(s.name, s.modality) for s in sub] == [("002", "rgb"), ("000", "gray"), ("001", "gray")]
    assert len(open_dataset(dataset_dir, ["gray:1", "rgb:1"], limit=1)) == 1
    with pytest.raises(ValueError, match="modality"):
        open_dataset(dataset_dir, "brightfield")
    with pytest.raises(FileNotFoundError):
        open_dataset(dataset_dir / "images")
    assert parse_modalities("a:3, b") == [("a", 3), ("b", None)]


@pytest.mark.parametrize("style", ["dict", "none"])
def test_dataset_index_variants(tmp_path: Path, style: str) -> None:
    ds = open_dataset(make_dataset(tmp_path / "d", style))
    assert len(ds) == 4
    if style == "none":
        assert ds.masks == "semantic" and ds.samples[0].modality == ""
        _, mask, _ = ds.samples[0].load(ds.masks)
        assert mask.max() > 1  # instance ids kept as classes
        assert open_dataset(tmp_path / "d", masks="instance").masks == "instance"
    else:
        assert ds.masks == "instance" and ds.samples[2].modality == "rgb"


# -- extractor specs -----------------------------------------------------------------------
def test_extractor_specs() -> None:
    runs = make_extractor_runs(
        ["raw", "vgg16", "ilastik:sigmas=[1,2],fast=true"], ["vgg16:weights=random"]
    )
    assert [r.label for r in runs] == [
        "raw",
        "vgg16 (random filters)",
        "ilastik (fast=True, sigmas=[1, 2])",
    ]
    assert runs[1].kwargs == {"weights": "random"}
    assert runs[2].kwargs == {"sigmas": [1, 2], "fast": True}
    assert parse_options("a=1,b=x,c=[1,2]") == {"a": 1, "b": "x", "c": [1, 2]}
    assert extractor_label("vgg16", {"weights": "random", "layers": 2}) == (
        "vgg16 (random filters, layers=2)"
    )
    with pytest.raises(ValueError):
        make_extractor_runs(["raw"], ["vgg16:weights=random"])
    with pytest.raises(ValueError):
        make_extractor_runs(["raw", "raw"])
    with pytest.raises(ValueError):
        parse_options("novalue")


# -- the runner ----------------------------------------------------------------------------
class RecordingModel:
    """Stand-in model: thresholds the first channel; records what it was trained on."""

    calls: list = []

    def __init__(self, label: str, fail_on: set[int]) -> None:
        self.label, self.fail_on = label, fail_on

    def train(self, image, annotations, axes=None):
        if image.shape[0] * 1000 + int(image.sum()) % 1000 in self.fail_on:
            raise RuntimeError("boom")
        RecordingModel.calls.append((self.label, hash(image.tobytes()), annotations.copy()))
        return self

    def segment(self, image, axes=None):
        first = image if image.ndim == 2 else image[..., 0]
        return (first > 110).astype(np.uint8) + 1


def test_evaluate_resume_failures_report(dataset_dir: Path, tmp_path: Path) -> None:
    ds = open_dataset(dataset_dir)
    runs = make_extractor_runs(["a", "b:k=1"])
    img0, _, _ = ds.samples[0].load(ds.masks)
    fail = {img0.shape[0] * 1000 + int(img0.sum()) % 1000}
    RecordingModel.calls = []

    def factory(run, seed):
        return RecordingModel(run.label, fail if run.label == "a" else set())

    out = tmp_path / "out"
    csv_path = evaluate(ds, runs, [0.5, 2], out, model_factory=factory, progress=False)
    rows = read_rows(csv_path)
    assert len(rows) == 4 * 2 * 2
    failed = [r for r in rows if r["error"]]
    assert {(r["image"], r["extractor"]) for r in failed} == {("000", "a")}
    assert "boom" in failed[0]["error"] and failed[0]["miou"] == ""
    ok = [r for r in rows if not r["error"]]
    assert all(0.9 < float(r["miou"]) <= 1 for r in ok)
    assert all(
        abs(float(r["coverage_actual"]) - float(r["coverage"])) <= 0.2 * float(r["coverage"])
        for r in ok
    )
    per_class = json.loads(ok[0]["iou_per_class"])
    assert set(per_class) == {"0", "1"}
    # the same scribbles for every extractor
    by_key: dict = {}
    for label, image_hash, ann in RecordingModel.calls:
        by_key.setdefault((image_hash, int(np.count_nonzero(ann))), []).append((label, ann))
    pairs = [v for v in by_key.values() if len(v) == 2]
    assert len(pairs) == 3 * 2  # image 000 failed for "a"
    assert all(np.array_equal(v[0][1], v[1][1]) and v[0][0] != v[1][0] for v in pairs)
    # scribbles respect the ground truth
    for _, _, ann in RecordingModel.calls:
        assert set(np.unique(labels_to_classes(ann))) <= {-1, 0, 1}

    # resume: nothing recomputed, failures kept unless retried
    n_calls = len(RecordingModel.calls)
    evaluate(ds, runs, [0.5, 2], out, model_factory=factory, progress=False)
    assert len(RecordingModel.calls) == n_calls and len(read_rows(csv_path)) == 16
    # a new coverage level only computes the new rows
    evaluate(ds, runs, [0.5, 1, 2], out, model_factory=factory, progress=False)
    assert len(read_rows(csv_path)) == 24
    # retry the failed rows with a model that works now
    evaluate(
        ds,
        runs,
        [0.5, 1, 2],
        out,
        progress=False,
        retry_failed=True,
        model_factory=lambda run, seed: RecordingModel(run.label, set()),
    )
    rows = read_rows(csv_path)
    assert len(rows) == 27
    groups = summarize(rows)
    assert all(g.n_failed == 0 and g.n == 2 for g in groups)  # retries replace failures

    summary, figure = write_report(out, tmp_path / "fig.png", "test")
    text = summary.read_text()
    assert "| a |" in text and "0.5 %" in text and "## gray (2 images)" in text
    assert figure.is_file() and figure.read_bytes()[:4] == b"\x89PNG"
    assert len((out / "runs.jsonl").read_text().splitlines()) == 3

    # other scribble settings in the same folder are refused
    with pytest.raises(ValueError, match="other settings"):
        evaluate(
            ds, runs, [1], out, model_factory=factory, scribbles=ScribbleSettings(line_width=3)
        )


def test_unreadable_image_is_a_row(dataset_dir: Path, tmp_path: Path) -> None:
    (dataset_dir / "images" / "000.png").write_bytes(b"not a png")
    ds = open_dataset(dataset_dir, limit=2)
    runs = make_extractor_runs(["raw"])
    csv_path = evaluate(ds, runs, [1], tmp_path / "o", progress=False)
    rows = read_rows(csv_path)
    assert rows[0]["image"] == "000" and rows[0]["error"]
    assert not rows[1]["error"] and float(rows[1]["miou"]) > 0.8


def test_scribble_seed_stable() -> None:
    assert scribble_seed(0, "001", 0.5) == scribble_seed(0, "001", 0.5)
    assert scribble_seed(0, "001", 0.5) != scribble_seed(0, "001", 1.0)
    assert scribble_seed(0, "001", 0.5) != scribble_seed(1, "001", 0.5)


def test_cli_with_raw_extractor(dataset_dir: Path, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="convpaint")
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli"
    args = parser.parse_args(
        [
            "evaluate",
            str(dataset_dir),
            "-e",
            "raw",
            "--coverage",
            "0.5,2",
            "-o",
            str(out),
            "--modality",
            "gray:1,rgb:1",
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and not any(r["error"] for r in rows)
    assert all(float(r["miou"]) > 0.8 for r in rows)
    assert (out / "summary.md").is_file() and (out / "miou_vs_coverage.png").is_file()
    args = parser.parse_args(["evaluate", str(dataset_dir), "-o", str(out), "--report-only"])
    assert args.func(args) == 0
    bad = parser.parse_args(
        ["evaluate", str(dataset_dir), "-e", "no-such-extractor", "-o", str(tmp_path / "x")]
    )
    assert bad.func(bad) == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", str(dataset_dir), "-o", "x", "--coverage", "0,200"])


def test_main_cli_has_evaluate() -> None:
    args = build_parser().parse_args(["evaluate", "d", "-e", "raw", "-o", "x"])
    assert args.command == "evaluate" and callable(args.func)


@pytest.mark.skipif(not DSB.is_dir(), reason=f"real data not available at {DSB}")
def test_real_dsb_raw(tmp_path: Path) -> None:
    ds = open_dataset(DSB, "fluorescence_gray:1,HE_histology_rgb:1")
    assert ds.masks == "instance"
    csv_path = evaluate(ds, make_extractor_runs(["raw"]), [1], tmp_path, progress=False)
    rows = read_rows(csv_path)
    assert [r["modality"] for r in rows] == ["fluorescence_gray", "HE_histology_rgb"]
    assert all(not r["error"] and float(r["miou"]) > 0.5 for r in rows)


def test_evaluate_without_matplotlib_writes_csv_and_summary(
    dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)  # import matplotlib -> ImportError
    parser = argparse.ArgumentParser(prog="convpaint")
    add_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "noplot"
    args = parser.parse_args(
        ["evaluate", str(dataset_dir), "-e", "raw", "--coverage", "2", "-o", str(out)]
        + ["--modality", "gray:1", "--no-progress"]
    )
    assert args.func(args) == 0
    assert (out / "results.csv").is_file() and (out / "summary.md").is_file()
    assert not (out / "miou_vs_coverage.png").exists()
    hint = [line for line in capsys.readouterr().out.splitlines() if line.startswith("plot:")]
    assert len(hint) == 1 and "matplotlib" in hint[0] and "convpaint-core[plot]" in hint[0]
