"""Class table: edits reach the layers, the model, its file and CSV tables."""

import numpy as np
import pytest
from helpers import disk_image, scribbles

import convpaint
from convpaint_napari.layers import ANNOTATIONS, SEGMENTATION


def colour(layer, value):
    return np.asarray(layer.colormap.color_dict[value])[:3]


def test_class_table_reaches_layers_model_and_file(viewer, widget, wait, tmp_path):
    viewer.add_image(disk_image(), name="img")
    viewer.add_labels(scribbles(), name=ANNOTATIONS)
    widget.form.n_estimators.setValue(10)
    table = widget.classes
    assert list(table.names) == [1, 2]
    table.rename(1, "background")
    table.rename(2, "coin")
    table.recolor(2, "#00ff00")
    ann = viewer.layers[ANNOTATIONS]
    np.testing.assert_allclose(colour(ann, 2), [0, 1, 0])
    assert list(ann.features["class"]) == ["unlabelled", "background", "coin"]

    widget.train_button.click()
    wait(widget)
    assert widget.last_outcome.status == "done", widget.last_outcome.message
    seg = viewer.layers[SEGMENTATION]
    np.testing.assert_allclose(colour(seg, 2), [0, 1, 0])
    y, x = np.argwhere(seg.data == 2)[0]
    status = seg.get_status((y, x), world=True)
    assert "coin" in str(status)  # the class name under the cursor

    table.recolor(1, "#0000ff")  # after training: layers and model follow
    np.testing.assert_allclose(colour(seg, 1), [0, 0, 1])
    assert widget.model.class_colors[1] == "#0000ff"
    path = widget.save_model(tmp_path / "m.npz")
    loaded = convpaint.load_model(path)
    assert loaded.class_names == {1: "background", 2: "coin"}
    assert loaded.class_colors == {1: "#0000ff", 2: "#00ff00"}

    csv = table.export_csv(tmp_path / "classes.csv")
    table.add_class("dirt", "#ff00ff")
    assert table.names[3] == "dirt" and colour(ann, 3).tolist() == [1, 0, 1]
    table.remove(3)
    table.import_csv(csv)
    assert table.names == {1: "background", 2: "coin"}
    widget.load_model(path)
    assert table.colors == {1: "#0000ff", 2: "#00ff00"}
    bad = tmp_path / "bad.csv"
    bad.write_text("value,name\n0,nothing\n")
    with pytest.raises(ValueError, match="bad.csv"):
        table.import_csv(bad)


def test_painting_a_new_value_adds_a_class(viewer, widget):
    viewer.add_image(disk_image(), name="img")
    viewer.add_labels(scribbles(classes=(1, 5)), name=ANNOTATIONS)
    assert 5 in widget.classes.names  # values found when the layer is picked
    viewer.layers[ANNOTATIONS].selected_label = 7
    assert widget.classes.names[7] == "class 7"


def test_class_names_reach_the_open_project(viewer, widget, tmp_path):
    if widget.project_panel is None:
        pytest.skip("no Project tab (convpaint_napari.project_panel)")
    assert widget.project_panel.open(tmp_path / "project") is not None
    widget.classes.rename(2, "nucleus")
    assert convpaint.Project(tmp_path / "project").class_names == {1: "class 1", 2: "nucleus"}
    widget.classes.rename(2, "cell")  # an image opened from the project: its names
    project = widget.project_panel.project
    project.save_settings({**project.settings, "classes": {"1": "sky", "2": "tree"}})
    widget.select_layers(viewer.add_image(disk_image(), name="img"), None)
    assert widget.classes.names == {1: "sky", 2: "tree"}
