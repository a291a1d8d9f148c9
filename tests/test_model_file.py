"""Model files: round trip, and corrupt or crafted files fail cleanly without running code."""

import json
import zipfile

import numpy as np
import pytest
from extractor_checks import require

import convpaint
from convpaint.model_file import ModelFileError


@pytest.fixture
def trained(blobs):
    image, _, scribbles = blobs
    return convpaint.ConvpaintModel("sobel", n_estimators=20).train(image, scribbles), image


def _rewrite(src, dst, change):
    with np.load(src, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    change(data)
    np.savez(dst, **data)


@pytest.mark.parametrize(
    "name, options",
    [("sobel", {}), ("ilastik", {"sigmas": [0.7, 1.6]}), ("vgg16", {"weights": "random"})],
)
def test_round_trip_gives_identical_labels(tmp_path, blobs, name, options):
    require(name)
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel(name, n_estimators=20, **options).train(image, scribbles)
    path = model.save(tmp_path / "m.npz")
    loaded = convpaint.load_model(path)
    assert np.array_equal(loaded.segment(image), model.segment(image))
    assert np.array_equal(loaded.predict_proba(image), model.predict_proba(image))
    assert loaded.classes_.tolist() == [1, 2]
    assert loaded.extractor.get_options() == model.extractor.get_options()


def test_combined_extractor_round_trip(tmp_path, blobs):
    require("ilastik")
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("sobel+ilastik", n_estimators=5, ilastik={"sigmas": [1.0]})
    model.train(image, scribbles)
    loaded = convpaint.load_model(model.save(tmp_path / "c.npz"))
    assert loaded.extractor.name == "sobel+ilastik"
    assert np.array_equal(loaded.segment(image), model.segment(image))


def test_file_holds_no_pickles(tmp_path, trained):
    model, _ = trained
    path = model.save(tmp_path / "m.npz")
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            header = zf.read(name)[:200]
            assert b"'descr': '|O'" not in header and b"descr': 'O" not in header
    meta = json.loads(np.load(path)["meta"].tobytes())
    assert meta["format"] == "convpaint-model" and meta["extractor"]["names"] == ["sobel"]
    assert meta["extractor"]["packages"] == {"sobel": "convpaint-testplugin"}


def test_missing_extractor_names_package(tmp_path, trained):
    model, _ = trained
    path = model.save(tmp_path / "m.npz")

    def rename(data):
        meta = json.loads(data["meta"].tobytes())
        meta["extractor"] = {
            "names": ["fancy"],
            "options": {"fancy": {}},
            "packages": {"fancy": "convpaint-fancy"},
        }
        data["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

    _rewrite(path, tmp_path / "x.npz", rename)
    with pytest.raises(ModelFileError, match="install convpaint-fancy") as info:
        convpaint.load_model(tmp_path / "x.npz")
    assert "fancy" in str(info.value) and "pip install" not in str(info.value)


def test_truncated_and_garbage_files(tmp_path, trained):
    model, _ = trained
    path = model.save(tmp_path / "m.npz")
    raw = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "junk.npz").write_bytes(b"not a model at all")
    for bad in ("cut.npz", "junk.npz", "absent.npz"):
        with pytest.raises(ModelFileError):
            convpaint.load_model(tmp_path / bad)


def test_pickled_payload_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('code ran')",))

    np.savez(tmp_path / "evil.npz", meta=np.array([Evil()], dtype=object))
    with pytest.raises(ModelFileError):
        convpaint.load_model(tmp_path / "evil.npz")


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("left_child", 10**6, "child indices"),
        ("feature", 999, "feature indices"),
        ("threshold", np.nan, "thresholds"),
    ],
)
def test_crafted_tree_is_refused(tmp_path, trained, field, value, match):
    model, _ = trained
    path = model.save(tmp_path / "m.npz")

    def tamper(data):
        nodes = data["tree_0_nodes"].copy()
        nodes[field][0] = value
        data["tree_0_nodes"] = nodes

    _rewrite(path, tmp_path / "t.npz", tamper)
    with pytest.raises(ModelFileError, match=match):
        convpaint.load_model(tmp_path / "t.npz")


def test_wrong_version_and_format(tmp_path, trained):
    model, _ = trained
    path = model.save(tmp_path / "m.npz")
    for key, value, match in [
        ("version", 99, "version 99"),
        ("format", "other", "not a convpaint"),
    ]:

        def change(data, key=key, value=value):
            meta = json.loads(data["meta"].tobytes())
            meta[key] = value
            data["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)

        _rewrite(path, tmp_path / "v.npz", change)
        with pytest.raises(ModelFileError, match=match):
            convpaint.load_model(tmp_path / "v.npz")


def test_save_is_atomic_and_refuses_unsafe_classifiers(tmp_path, blobs):
    from sklearn.linear_model import LogisticRegression

    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("raw", classifier=LogisticRegression()).train(image, scribbles)
    with pytest.raises(TypeError, match="without pickle"):
        model.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="not trained"):
        convpaint.ConvpaintModel("raw").save(tmp_path / "u.npz")
