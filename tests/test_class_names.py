"""Named classes: validation, model files, `convpaint info`, class tables beside outputs."""

import json

import numpy as np
import pytest
import tifffile

import convpaint
from convpaint.class_names import (
    check_class_colors,
    check_class_names,
    read_csv,
    to_csv,
    write_csv,
)
from convpaint.cli import main

NAMES = {1: "background", 2: "nucleus", 5: "membrane, outer"}


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    image = rng.random((48, 64)).astype(np.float32)
    image[:, 40:] += 2
    ann = np.zeros(image.shape, np.uint8)
    ann[2:5, 2:30] = 1
    ann[20:23, 42:60] = 2
    ann[40:44, 5:30] = 5
    model = convpaint.ConvpaintModel("raw", n_estimators=4, class_names=NAMES)
    return model.train(image, ann), image


def test_names_and_colours_default_and_given(trained):
    model, _ = trained
    assert model.class_names == NAMES
    colors = model.class_colors
    assert list(colors) == [1, 2, 5] and all(
        c.startswith("#") and len(c) == 7 for c in colors.values()
    )
    assert len(set(colors.values())) == 3
    plain = convpaint.ConvpaintModel("raw")
    assert plain.class_names == {}  # untrained, none given
    plain.class_names = {"3": "cells"}  # keys from JSON/TOML/CSV
    assert plain.class_names == {3: "cells"}


def test_names_survive_save_load_and_do_not_change_the_fingerprint(trained, tmp_path):
    model, image = trained
    model.save(tmp_path / "m.npz")
    loaded = convpaint.load_model(tmp_path / "m.npz")
    assert loaded.class_names == NAMES and loaded.class_colors == model.class_colors
    assert loaded.training_["n_samples"] == int(model.training_["n_samples"]) > 0
    fp = loaded.fingerprint()
    loaded.class_names = {2: "cell"}
    assert loaded.class_names[2] == "cell" and loaded.class_names[1] == "class 1"
    assert loaded.fingerprint() == fp  # names cannot change a result
    assert np.array_equal(loaded.segment(image), model.segment(image))


@pytest.mark.parametrize(
    "names, error",
    [
        ([("a", 1)], TypeError),
        ({1: 3}, TypeError),
        ({0: "zero"}, ValueError),
        ({-2: "neg"}, ValueError),
        ({True: "bool"}, TypeError),
        ({1.5: "float"}, TypeError),
        ({"x": "bad key"}, TypeError),
        ({1: ""}, ValueError),
        ({1: "two\nlines"}, ValueError),
    ],
)
def test_bad_class_names_are_refused(names, error):
    with pytest.raises(error, match="class_names"):
        check_class_names(names)
    with pytest.raises(error, match="class_names"):
        convpaint.ConvpaintModel("raw", class_names=names)


def test_colours_accept_hex_and_rgb_and_refuse_others():
    assert check_class_colors({1: "#FF0000", 2: (0, 255, 0), 3: (0.0, 0.0, 1.0)}) == {
        1: "#ff0000",
        2: "#00ff00",
        3: "#0000ff",
    }
    for bad in ("red", (256, 0, 0), "#12345"):
        with pytest.raises(ValueError, match="class_colors"):
            check_class_colors({1: bad})


def test_csv_round_trip_and_bad_tables(tmp_path):
    colors = {1: "#000000", 2: "#ffffff", 5: "#123456"}
    path = write_csv(tmp_path / "classes.csv", NAMES, colors)
    assert read_csv(path) == (NAMES, colors)
    assert to_csv(NAMES, colors).splitlines()[0] == "value,name,color"
    bad = tmp_path / "bad.csv"
    bad.write_text("value,name\n1,a\n1,b\n")
    with pytest.raises(ValueError, match="appears twice"):
        read_csv(bad)
    bad.write_text("id;label\n1;a\n")
    with pytest.raises(ValueError, match="header"):
        read_csv(bad)
    bad.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ValueError, match="UTF-8"):
        read_csv(bad)


def test_model_file_with_bad_names_is_refused(trained, tmp_path):
    from convpaint.model_file import ModelFileError, read_model_file, save_model

    model, _ = trained
    meta = model._metadata()
    meta["class_names"] = {"1": 7}
    with pytest.raises(ModelFileError, match="class_names"):
        save_model(tmp_path / "bad.npz", meta, model.classifier)
    model.save(tmp_path / "ok.npz")
    meta, _ = read_model_file(tmp_path / "ok.npz")
    assert meta["class_names"] == {"1": "background", "2": "nucleus", "5": "membrane, outer"}


def test_older_model_files_load_with_default_names(trained, tmp_path):
    from convpaint.model_file import save_model

    model, _ = trained
    meta = model._metadata()
    for key in ("class_names", "class_colors", "training", "versions", "smooth", "downsample"):
        meta.pop(key)
    save_model(tmp_path / "old.npz", meta, model.classifier)
    old = convpaint.load_model(tmp_path / "old.npz")
    assert old.class_names == {1: "class 1", 2: "class 2", 5: "class 5"}
    assert old.downsample == 1 and old.smooth == 0 and old.training_ == {}


def test_info_shows_extractor_classes_training_and_versions(trained, tmp_path, capsys):
    model, _ = trained
    model.save(tmp_path / "m.npz")
    assert main(["info", str(tmp_path / "m.npz")]) == 0
    text = capsys.readouterr().out
    for expected in (
        "extractor     raw",
        "nucleus",
        "membrane, outer",
        "training ",
        "convpaint-core",
    ):
        assert expected in text
    counts = model.training_["class_counts"]
    assert f"{counts['2']}" in text
    assert main(["info", str(tmp_path / "m.npz"), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["class_names"]["2"] == "nucleus" and "classifier" not in meta
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    assert main(["info", str(tmp_path / "junk.npz")]) == 2
    assert "junk.npz" in capsys.readouterr().err


def test_cli_writes_a_class_table_beside_label_files(trained, tmp_path):
    model, image = trained
    model.save(tmp_path / "m.npz")
    tifffile.imwrite(tmp_path / "a.tif", image)
    tifffile.imwrite(tmp_path / "b.tif", image[::-1].copy())
    assert (
        main(
            [
                "segment",
                str(tmp_path / "m.npz"),
                str(tmp_path / "a.tif"),
                "-o",
                str(tmp_path / "one.tif"),
                "-q",
            ]
        )
        == 0
    )
    names, colors = read_csv(tmp_path / "one.classes.csv")
    assert names == NAMES and colors == model.class_colors
    out = tmp_path / "many"
    args = ["segment", str(tmp_path / "m.npz"), str(tmp_path / "a.tif"), str(tmp_path / "b.tif")]
    assert main([*args, "-o", str(out), "-q"]) == 0
    assert read_csv(out / "classes.csv")[0] == NAMES
    assert sorted(p.name for p in out.iterdir()) == ["a_labels.tif", "b_labels.tif", "classes.csv"]


def test_ome_zarr_labels_carry_names_and_colours(trained, tmp_path):
    zarr = pytest.importorskip("zarr")
    model, image = trained
    out = tmp_path / "out.ome.zarr"
    model.write(image, out, what=("labels", "proba"))
    group = zarr.open_group(str(out), mode="r")
    label = group.attrs["ome"]["image-label"]
    assert [p["class"] for p in label["properties"]] == list(NAMES.values())
    assert [c["label-value"] for c in label["colors"]] == [1, 2, 5]
    assert all(len(c["rgba"]) == 4 for c in label["colors"])
    assert group["probabilities"].attrs["class_names"] == list(NAMES.values())
