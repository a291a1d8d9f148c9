"""Projects (convpaint.project): round trip, atomic annotations, stale outputs, resume after
SIGKILL, bounded training memory, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile

from convpaint import project_files
from convpaint.cli import main
from convpaint.project import Project

SRC = Path(__file__).resolve().parents[1] / "packages/convpaint-core/src"


def _disks(shape, seed):
    """A float32 image with bright disks, and its 1/2 truth."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    truth = np.ones(shape, np.uint8)
    for _ in range(max(2, shape[0] * shape[1] // 2500)):
        cy, cx = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 < rng.integers(5, 12) ** 2] = 2
    image = np.where(truth == 2, 0.8, 0.2) + rng.normal(0, 0.05, shape)
    return image.astype(np.float32), truth


def _scribbles(truth, step=9):
    ann = np.zeros_like(truth)
    ann[::step, ::step] = truth[::step, ::step]
    return ann


def _make(tmp_path, n=3, shape=(80, 96), folder="src", **init):
    src = tmp_path / folder
    src.mkdir(exist_ok=True)
    truths = {}
    for i in range(n):
        image, truth = _disks(shape, i)
        tifffile.imwrite(src / f"im{i}.tif", image)
        truths[f"im{i}"] = truth
    init.setdefault("extractor", "ilastik")
    init.setdefault("options", {"sigmas": [0.7, 1.6]})
    project = Project.init(tmp_path / "proj", images=str(src / "*.tif"), **init)
    return project, truths


def test_round_trip(tmp_path, capsys):
    project, truths = _make(tmp_path, class_names={1: "background", 2: "disk"})
    assert project.names == ["im0", "im1", "im2"]
    assert [e.annotated for e in project.images] == [False] * 3
    empty = project.read_annotations("im1")
    assert empty.shape == (80, 96) and not empty.any()
    for name in ("im0", "im1"):
        project.save_annotations(name, _scribbles(truths[name]))
    assert np.array_equal(project.read_annotations("im0"), _scribbles(truths["im0"]))
    assert project.status()["model"] == "not trained"
    steps = []
    model = project.train(callback=lambda d, t: steps.append((d, t)))
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert (tmp_path / "proj/model.npz").is_file()
    assert model.class_names == {1: "background", 2: "disk"}
    assert project.status()["model"] == "trained"
    assert project.segment(names=["im2"]) == ["im2"]
    assert project.segment() == ["im0", "im1"]  # im2 is current
    for name, truth in truths.items():
        labels = tifffile.imread(project.output_path(name))
        assert labels.shape == truth.shape
        assert np.mean(labels == truth) > 0.95, name
    s = project.status()
    assert (s["images"], s["annotated"], s["segmented"], s["stale"]) == (3, 2, 3, 0)
    # a fresh object (another session) reads the same state; the CLI shows it
    again = Project(tmp_path / "proj")
    assert [(e.name, e.segmented, e.stale) for e in again.images] == [
        ("im0", True, False),
        ("im1", True, False),
        ("im2", True, False),
    ]
    assert main(["project", "status", str(tmp_path / "proj")]) == 0
    out = capsys.readouterr().out
    assert "3 images, 2 annotated, 3 segmented (0 stale); model: trained" in out
    settings = project_files.read_toml(tmp_path / "proj/project.toml")
    assert settings["classes"] == {"1": "background", "2": "disk"}
    assert settings["options"] == {"sigmas": [0.7, 1.6]}


def test_through_the_convpaint_command(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    image, truth = _disks((64, 64), 0)
    tifffile.imwrite(src / "a.tif", image)
    proj = str(tmp_path / "p")
    assert main(["project", "init", proj, "--images", str(src / "*.tif"), "--class", "2=disk"]) == 0
    Project(proj).save_annotations("a", _scribbles(truth))
    assert main(["project", "train", proj, "-q"]) == 0
    assert main(["project", "segment", proj, "-q", "--proba"]) == 0
    assert main(["project", "status", proj]) == 0
    out = capsys.readouterr().out
    assert "segmented 1 of 1 images" in out and "1 images, 1 annotated, 1 segmented" in out
    assert main(["project", "status", str(src / "a.tif")]) == 2
    assert capsys.readouterr().err.strip().endswith("is a file, not a project folder")


def test_instances_and_probabilities(tmp_path):
    project, truths = _make(tmp_path, n=1)
    project.save_annotations("im0", _scribbles(truths["im0"]))
    project.train()
    assert project.segment(instances=True, proba=True) == ["im0"]
    proba = tifffile.imread(project.output_path("im0", "proba"))
    assert proba.shape == (2, 80, 96) and proba.dtype == np.float32
    ids = tifffile.imread(project.output_path("im0", "instances"))
    assert ids.shape == (80, 96) and ids.max() >= 2
    assert project.segment(instances=True, proba=True) == []  # all current
    project.output_path("im0", "instances").unlink()
    assert project.segment(instances=True) == ["im0"]  # the missing output only
    assert np.array_equal(tifffile.imread(project.output_path("im0", "instances")), ids)


def test_lazy_and_in_memory_training_give_the_same_model(tmp_path):
    project, truths = _make(tmp_path, n=2)
    for name, truth in truths.items():
        project.save_annotations(name, _scribbles(truth))
    lazy = project.train(lazy=True).fingerprint()
    eager = project.train(lazy=False).fingerprint()
    assert lazy == eager


def test_retraining_reuses_the_feature_cache_across_images(tmp_path):
    project, truths = _make(tmp_path, n=2)
    for name, truth in truths.items():
        project.save_annotations(name, _scribbles(truth))
    model = project.train()
    misses = model.feature_cache.misses
    assert misses > 0 and model.feature_cache.hits == 0
    ann = project.read_annotations("im1")
    ann[3, 3] = 1  # one more stroke
    project.save_annotations("im1", ann)
    again = project.train()
    assert again is model  # one model object across calls
    assert model.feature_cache.misses == misses  # every tile of both images from the cache
    # the stroke's tile read its features again; the others kept their samples as they were
    assert model.feature_cache.hits >= 1


def test_segmenting_leaves_the_training_features_in_the_cache(tmp_path):
    """Whole-image prediction features would evict the training features (the core
    stores them when they fit half the cache): segmenting uses a model without a cache."""
    cache_bytes = 8 * 2**20
    project, truths = _make(tmp_path, n=4, shape=(192, 192), model={"cache_bytes": cache_bytes})
    for name in ("im0", "im1"):
        project.save_annotations(name, _scribbles(truths[name]))
    model = project.train()
    cache = model.feature_cache
    entries, nbytes, misses = len(cache), cache.nbytes, cache.misses
    assert 2 * nbytes > cache_bytes  # the premise: four images' features do not fit
    assert project.segment() == ["im0", "im1", "im2", "im3"]
    assert project.model() is model
    assert (len(cache), cache.nbytes, cache.misses, cache.hits) == (entries, nbytes, misses, 0)
    ann = project.read_annotations("im1")
    ann[3, 3] = 1  # one more stroke
    project.save_annotations("im1", ann)
    assert project.train() is model
    assert cache.misses == misses and cache.hits >= 1  # every tile (or its samples) cached
    for name, truth in truths.items():
        assert np.mean(tifffile.imread(project.output_path(name)) == truth) > 0.95, name


def test_prediction_model_shares_the_trees_not_the_cache(tmp_path):
    from convpaint.project_segment import prediction_model

    project, truths = _make(tmp_path, n=1)
    project.save_annotations("im0", _scribbles(truths["im0"]))
    model = project.train()
    segmenter = prediction_model(model)
    assert segmenter.classifier is model.classifier
    assert segmenter.feature_cache is not model.feature_cache
    assert segmenter.feature_cache.max_bytes == 0 and model.feature_cache.max_bytes > 0
    assert segmenter.fingerprint() == model.fingerprint()


def test_volume_annotations_round_trip_as_planes(tmp_path):
    """A (3, Y, X) annotation stack of a ZYX image is three grey planes, not planar RGB
    (tifffile's DeprecationWarning for that is an error here)."""
    src = tmp_path / "src"
    src.mkdir()
    truth = np.stack([_disks((64, 64), i)[1] for i in range(3)])
    image = np.where(truth == 2, 0.8, 0.2).astype(np.float32)
    tifffile.imwrite(src / "vol.tif", image, photometric="minisblack")
    project = Project.init(
        tmp_path / "proj", images=[src / "vol.tif"], axes="ZYX", options={"sigmas": [0.7, 1.6]}
    )
    ann = np.zeros_like(truth, dtype=np.uint16)
    ann[:, ::7, ::7] = truth[:, ::7, ::7]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = project.save_annotations("vol", ann)
        assert np.array_equal(project.read_annotations("vol"), ann)
        project.train()
        assert project.segment(proba=True) == ["vol"]
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 3 and tif.pages[0].photometric == tifffile.PHOTOMETRIC.MINISBLACK
    labels = tifffile.imread(project.output_path("vol"))
    assert labels.shape == (3, 64, 64) and np.mean(labels == truth) > 0.95
    assert tifffile.imread(project.output_path("vol", "proba")).shape == (2, 3, 64, 64)


def test_saving_annotations_is_atomic(tmp_path, monkeypatch):
    project, truths = _make(tmp_path, n=1)
    old = _scribbles(truths["im0"])
    project.save_annotations("im0", old)

    def crash(path, data, **kwargs):
        Path(path).write_bytes(b"II*\x00 half a tiff")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tifffile, "imwrite", crash)
    with pytest.raises(OSError, match="annotations/im0.tif"):
        project.save_annotations("im0", np.ones_like(old))
    monkeypatch.undo()
    assert np.array_equal(project.read_annotations("im0"), old)
    assert sorted(p.name for p in (tmp_path / "proj/annotations").iterdir()) == ["im0.tif"]


def test_stale_outputs_after_new_annotations_and_retraining(tmp_path):
    project, truths = _make(tmp_path, n=2)
    project.save_annotations("im0", _scribbles(truths["im0"]))
    project.train()
    project.segment()
    assert not any(e.stale for e in project.images) and not project.needs_training
    ann = project.read_annotations("im0")
    ann[40:45, 40] = 2
    project.save_annotations("im0", ann)
    assert [e.stale for e in project.images] == [True, False]  # annotated after segmenting
    assert project.needs_training
    assert "out of date" in project.status()["model"]
    project.train()
    assert [e.stale for e in project.images] == [True, True]  # made by the previous model
    assert project.segment() == ["im0", "im1"]
    assert not any(e.stale for e in project.images)
    assert project.segment() == []


def _run_cli(*argv):
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-m", "convpaint.cli", "project", *argv, "--quiet"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _outputs(folder):
    return {p.name: tifffile.imread(p) for p in sorted((folder / "segmentations").glob("*.tif"))}


def test_resume_after_sigkill(tmp_path):
    project, truths = _make(tmp_path, n=6, shape=(160, 160))
    project.save_annotations("im0", _scribbles(truths["im0"]))
    project.train()
    copy = tmp_path / "copy"
    shutil.copytree(project.path, copy)  # the same trained project, nothing segmented
    proc = _run_cli("segment", str(copy))
    deadline = time.monotonic() + 60
    while not list((copy / "segmentations").glob("*.tif")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list((copy / "segmentations").glob("*.tif")))
    assert 1 <= done < 6, "the run should be killed while it works"
    recorded = len(project_files.read_json(copy / "segmentations/.state.json"))
    assert recorded in (done - 1, done)  # an output is recorded just after it is written
    resumed = _run_cli("segment", str(copy))
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    assert f"segmented {6 - recorded} of 6 images" in out.decode()  # the rest is kept
    project.segment()  # uninterrupted, in the original folder
    a, b = _outputs(project.path), _outputs(copy)
    assert sorted(a) == sorted(b) == [f"im{i}.tif" for i in range(6)]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    leftovers = [p.name for p in (copy / "segmentations").iterdir() if p.name.startswith(".")]
    assert leftovers == [".state.json"]
    state = json.loads((copy / "segmentations/.state.json").read_text())
    assert sorted(state) == [f"im{i}" for i in range(6)]


MEMORY_CHILD = r"""
import json, sys, time
from pathlib import Path
from convpaint.project import Project

def peak_mb():  # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

project = Project(sys.argv[1])
project.model()  # imports and extractor
base = peak_mb()
t0 = time.perf_counter()
project.train(lazy=True)
print(json.dumps({"base_mb": base, "growth_mb": peak_mb() - base, "train_s": time.perf_counter() - t0}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM (Linux)")
def test_training_memory_is_bounded(tmp_path):
    """6 images of 1024² on disk, scribbles on 2: training reads them lazily and its RSS
    grows far less than the features of all images (6 x 56 x 1024² float32 = 1.3 GiB)."""
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        tifffile.imwrite(src / f"big{i}.tif", rng.integers(0, 255, (1024, 1024), np.uint8))
    project = Project.init(
        tmp_path / "proj", images=str(src / "*.tif"), model={"n_estimators": 20, "workers": 2}
    )
    for name in project.names[:2]:
        ann = np.zeros((1024, 1024), np.uint8)
        ann[100:104, 100:400] = 1
        ann[700:704, 600:900] = 2
        project.save_annotations(name, ann)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(project.path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["growth_mb"] < 400, result
    assert Project(project.path).status()["model"] == "trained"


# -- bad input -----------------------------------------------------------------------------
def _one_line_error(argv, capsys, match):
    assert main(["project", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("convpaint: error: "), err
    assert match in err, err


def test_errors_are_worded_as_for_every_subcommand(tmp_path, capsys, monkeypatch):
    _one_line_error(["init", str(tmp_path / "p"), "--option", "sigmas"], capsys, "KEY=VALUE")
    _one_line_error(["init", str(tmp_path / "p"), "--class", "bg"], capsys, "'bg' is not KEY=")
    assert not (tmp_path / "p").exists()
    project, _ = _make(tmp_path, n=1)

    def broken(self):
        raise KeyError("oops")

    monkeypatch.setattr(Project, "status", broken)
    _one_line_error(
        ["status", str(project.path)], capsys, "KeyError: 'oops' (CONVPAINT_DEBUG=1 shows"
    )
    monkeypatch.setenv("CONVPAINT_DEBUG", "1")
    with pytest.raises(KeyError, match="oops"):
        main(["project", "status", str(project.path)])
    with pytest.raises(FileNotFoundError, match="not a Convpaint project"):
        main(["project", "status", str(tmp_path / "nothing")])


def test_project_folder_that_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a project folder"):
        Project(tmp_path / "file")
    with pytest.raises(ValueError, match="is a file, not a project folder"):
        Project.init(tmp_path / "file")
    _one_line_error(["status", str(tmp_path / "file")], capsys, "is a file")
    _one_line_error(["init", str(tmp_path / "file")], capsys, "is a file")
    _one_line_error(["status", str(tmp_path / "nothing")], capsys, "not a Convpaint project")


def test_annotation_file_that_is_not_an_integer_image(tmp_path, capsys):
    project, _ = _make(tmp_path, n=1)
    tifffile.imwrite(project.annotation_path("im0"), np.ones((80, 96), np.float32))
    with pytest.raises(ValueError, match="must be an integer image.*float32"):
        project.read_annotations("im0")
    _one_line_error(["train", str(project.path)], capsys, "must be an integer image")
    with pytest.raises(ValueError, match="must be an integer image"):
        project.save_annotations("im0", np.ones((80, 96), np.float64))
    with pytest.raises(TypeError, match="integer array"):
        project.save_annotations("im0", [[1, 2]])


def test_wrong_annotation_shape(tmp_path, capsys):
    project, _ = _make(tmp_path, n=1)
    with pytest.raises(ValueError, match=r"shape \(80, 95\) does not match .* \(80, 96\)"):
        project.save_annotations("im0", np.ones((80, 95), np.uint8))
    assert not project.annotation_path("im0").exists()
    tifffile.imwrite(project.annotation_path("im0"), np.ones((40, 96), np.uint8))
    with pytest.raises(ValueError, match="does not match the image's spatial shape"):
        project.read_annotations("im0")
    _one_line_error(["train", str(project.path)], capsys, "does not match")


def test_corrupt_project_toml(tmp_path, capsys):
    project, _ = _make(tmp_path, n=1)
    project.settings_path.write_text("extractor = [")
    with pytest.raises(ValueError, match="not a valid project.toml"):
        Project(project.path)
    _one_line_error(["status", str(project.path)], capsys, "not a valid project.toml")
    project.settings_path.write_text('extractor = "ilastik"\n[model]\nsmoth = 2\n')
    _one_line_error(["status", str(project.path)], capsys, "unknown [model] setting(s) ['smoth']")
    project.settings_path.write_bytes(b"\xff\xfe")
    _one_line_error(["status", str(project.path)], capsys, "not a valid project.toml")


def test_unknown_image_name(tmp_path, capsys):
    project, truths = _make(tmp_path, n=1)
    with pytest.raises(ValueError, match=r"no image named 'nope' .*\(images: im0\)"):
        project.read_annotations("nope")
    with pytest.raises(ValueError, match="no image named 'nope'"):
        project.save_annotations("nope", np.zeros((80, 96), np.uint8))
    project.save_annotations("im0", _scribbles(truths["im0"]))
    project.train()
    _one_line_error(["segment", str(project.path), "--names", "nope"], capsys, "'nope'")
    assert not list((project.path / "segmentations").glob("*.tif"))


def test_other_bad_input(tmp_path, capsys):
    project, _ = _make(tmp_path, n=1)
    _one_line_error(["train", str(project.path)], capsys, "no image has annotations yet")
    _one_line_error(["segment", str(project.path)], capsys, "no trained model yet")
    _one_line_error(["init", str(project.path)], capsys, "is a project already")
    _one_line_error(["init", str(tmp_path / "p2"), "--extractor", "nope"], capsys, "nope")
    assert not (tmp_path / "p2").exists()
    _one_line_error(
        ["init", str(tmp_path / "p3"), "--images", str(tmp_path / "*.xyz")], capsys, "matches no"
    )
    _one_line_error(["init", str(tmp_path / "p4"), "--class", "x=bg"], capsys, "[classes]")
    with pytest.raises(ValueError, match=r"\[classes\]"):
        Project.init(tmp_path / "p5", class_names={1: 7})
    tifffile.imwrite(tmp_path / "proj/images/im0.tif", np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="two images are named 'im0'"):
        project.images  # noqa: B018


def test_images_folder_and_create(tmp_path):
    project = Project(tmp_path / "new", create=True)
    assert project.names == [] and project.settings["extractor"] == "ilastik"
    tifffile.imwrite(project.path / "images/a.tif", np.zeros((16, 20), np.uint8))
    np.save(project.path / "images/b.npy", np.zeros((16, 20, 3), np.uint8))
    assert project.names == ["a", "b"]
    assert project.read_annotations("b").shape == (16, 20)  # RGB: the spatial shape
    other = tmp_path / "c.tif"
    tifffile.imwrite(other, np.zeros((5, 6), np.uint8))
    assert Project(project.path, images=[other]).names == ["a", "b", "c"]
    assert Project(project.path, create=True).names == ["a", "b", "c"]


def test_cancel_leaves_the_project_as_it_was(tmp_path):
    import threading

    from convpaint import Cancelled

    project, truths = _make(tmp_path, n=3)
    project.save_annotations("im0", _scribbles(truths["im0"]))
    event = threading.Event()
    event.set()
    with pytest.raises(Cancelled):
        project.train(cancel=event)
    assert not project.model_path.exists()
    project.train()
    event.clear()
    with pytest.raises(Cancelled):  # cancelled after the first image
        project.segment(cancel=event, callback=lambda done, total: event.set())
    assert [e.segmented for e in project.images] == [True, False, False]
    assert project.segment() == ["im1", "im2"]
