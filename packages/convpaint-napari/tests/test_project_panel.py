import numpy as np
import pytest
import tifffile
from helpers import disk_image, scribbles
from qtpy.QtWidgets import QWidget

import convpaint
from convpaint_napari.project_layers import AUTOSAVE_MS
from convpaint_napari.project_panel import ProjectPanel
from convpaint_napari.worker import JobRunner

SHAPE = (48, 48)


class StandIn(QWidget):
    """The host's interface the panel uses: ``model`` and ``runner``."""

    def __init__(self):
        super().__init__()
        self.model = None
        self.runner = JobRunner(self)


@pytest.fixture
def folder(tmp_path):
    """A plain folder of three images (not a project yet)."""
    for i in range(3):
        image = disk_image(SHAPE, seed=i)
        if i == 2:
            image = image[::-1].copy()
        tifffile.imwrite(tmp_path / f"cell{i}.tif", image)
    return tmp_path


@pytest.fixture
def panel(viewer, qtbot):
    host = StandIn()
    qtbot.addWidget(host)
    p = ProjectPanel(viewer, host)
    qtbot.addWidget(p)
    return p


def finish(qtbot, panel, timeout=60_000):
    qtbot.waitUntil(lambda: not panel.host.runner.busy, timeout=timeout)
    return panel.last_outcome


def stroke(layer, rows, cols, value):
    """A paint stroke as napari's brush records it (one undo step, a paint event)."""
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    layer.data_setitem((rr.ravel(), cc.ravel()), value)


def test_open_paint_autosave_train_segment_all(viewer, panel, folder, qtbot):
    project = panel.open(folder)
    assert project is not None and (folder / "project.toml").is_file()
    assert panel.names == ["cell0", "cell1", "cell2"]
    assert panel.table.item(0, 1).text() == "48 × 48"

    assert panel.open_image("cell0")
    assert panel.image_layer.name == "cell0" and viewer.layers["cell0"] is panel.image_layer
    ann = panel.annotations_layer
    assert ann.name == "cell0 annotations" and ann.data.shape == SHAPE
    assert viewer.layers.selection.active is ann

    saved = folder / "annotations" / "cell0.tif"
    target = scribbles(SHAPE)
    stroke(ann, np.arange(2, 4), np.arange(4, 44), 1)
    assert panel.autosave_timer.isActive() and not saved.exists()  # debounced
    stroke(ann, np.arange(23, 25), np.arange(18, 30), 2)
    qtbot.waitUntil(saved.is_file, timeout=5_000)
    np.testing.assert_array_equal(tifffile.imread(saved), target)
    assert panel.row_state("cell0") == {"annotated": True, "segmented": False, "stale": False}

    assert panel.train()
    assert panel.cancel_button.isEnabled() and not panel.train_button.isEnabled()
    outcome = finish(qtbot, panel)
    assert outcome.status == "done", outcome.message
    assert (folder / "model.npz").is_file()
    assert panel.host.model is outcome.value and list(panel.host.model.classes_) == [1, 2]

    panel.proba_check.setChecked(True)
    assert panel.segment_all()
    outcome = finish(qtbot, panel)
    assert outcome.status == "done", outcome.message
    assert sorted(outcome.value) == panel.names
    model = convpaint.load_model(folder / "model.npz")
    for i, name in enumerate(panel.names):
        seg = tifffile.imread(folder / "segmentations" / f"{name}.tif")
        image = tifffile.imread(folder / f"cell{i}.tif")
        np.testing.assert_array_equal(seg, model.segment(image))
        assert tifffile.imread(folder / "probabilities" / f"{name}.tif").shape == (2, *SHAPE)
        assert panel.row_state(name) == {"annotated": name == "cell0", "segmented": True,
                                         "stale": False}  # fmt: skip
    assert panel.progress.value() == panel.progress.maximum() == 3
    seg_layer = viewer.layers["cell0 segmentation"]  # the opened image's result, shown
    np.testing.assert_array_equal(
        seg_layer.data, model.segment(tifffile.imread(folder / "cell0.tif"))
    )

    # one more stroke: saved, and the segmentation is now out of date
    stroke(panel.annotations_layer, np.arange(40, 42), np.arange(4, 20), 2)
    qtbot.waitUntil(lambda: panel.row_state("cell0")["stale"], timeout=5_000)
    assert tifffile.imread(saved)[40, 4] == 2


def test_next_previous_and_annotations_per_image(viewer, panel, folder, qtbot):
    panel.open(folder)
    assert panel.next_image() == "cell0"  # nothing open: the first
    stroke(panel.annotations_layer, np.arange(0, 3), np.arange(0, 3), 3)
    assert panel.next_image() == "cell1"  # switching saves at once
    assert tifffile.imread(folder / "annotations" / "cell0.tif")[1, 1] == 3
    assert "cell0" not in viewer.layers and "cell0 annotations" not in viewer.layers
    assert not panel.annotations_layer.data.any()
    assert panel.previous_image() == "cell0"
    assert panel.annotations_layer.data[1, 1] == 3  # read back from the project
    assert panel.previous_image() == "cell2"  # wraps around
    assert [panel._name_at(r) for r in range(3)] == ["cell0", "cell1", "cell2"]


def test_segment_selected_and_cancel(viewer, panel, folder, qtbot, monkeypatch):
    panel.open(folder)
    panel.open_image("cell1")
    panel.annotations_layer.data = scribbles(SHAPE)  # a whole new array: the data event
    panel.save_now()
    assert panel.train() and finish(qtbot, panel).status == "done"

    panel.table.selectRow(2)
    assert panel.selected_names() == ["cell2"]
    assert panel.segment_selected() and finish(qtbot, panel).status == "done"
    assert sorted(p.name for p in (folder / "segmentations").glob("*.tif")) == ["cell2.tif"]
    assert panel.row_state("cell2")["segmented"] and not panel.row_state("cell0")["segmented"]

    # cancel: the job stops between images, what is written stays whole
    def slow_segment(self, names=None, *, cancel=None, callback=None, **kw):
        for _ in names or self.names:
            cancel.wait(5)
            if cancel.is_set():
                raise convpaint.Cancelled("cancelled")
        return []

    monkeypatch.setattr(convpaint.Project, "segment", slow_segment)
    assert panel.segment_all()
    assert not panel.segment_all()  # one job at a time
    panel.cancel_button.click()
    assert finish(qtbot, panel, 10_000).status == "cancelled"
    assert "cancelled" in panel.status.text()


def test_bad_inputs_are_one_line_errors(viewer, panel, tmp_path, qtbot):
    file = tmp_path / "a.txt"
    file.write_text("x")
    assert panel.open(file) is None and "is a file" in panel.status.text()
    assert not panel.train() and not panel.open_image("x")
    panel.open(tmp_path / "new")  # created
    assert (tmp_path / "new" / "project.toml").is_file() and panel.names == []
    assert "No images yet" in panel.status.text()
    assert not panel.segment_all() and "no trained model" in panel.status.text()
    assert not panel.open_image("nope") and "no image named 'nope'" in panel.status.text()
    tifffile.imwrite(tmp_path / "x.tif", disk_image(SHAPE))
    assert [p.name for p in panel.add_images([tmp_path / "x.tif"])] == ["x.tif"]
    assert panel.names == ["x"]
    assert not panel.train() and "no image has annotations" in panel.status.text()
    # annotations of a wrong shape: reported, never written
    panel.open_image("x")
    panel.annotations_layer.data = np.zeros((10, 10), np.uint8)
    assert panel.save_now() is None and "not saved" in panel.status.text()
    assert not (tmp_path / "new" / "annotations" / "x.tif").exists()


def test_continuous_painting_does_not_postpone_the_save(viewer, panel, folder, qtbot):
    """Strokes every 100 ms: the first is on disk within AUTOSAVE_MS (a throttle, not a
    debounce that painting would keep postponing), so a crash loses at most that long."""
    panel.open(folder)
    panel.open_image("cell2")
    saved = folder / "annotations" / "cell2.tif"
    for i in range(12):
        stroke(panel.annotations_layer, np.arange(i, i + 1), np.arange(0, 8), 1)
        qtbot.wait(100)
        if saved.is_file():
            break
    assert saved.is_file() and i < 10, f"not saved after {i + 1} strokes"
    assert tifffile.imread(saved)[0, 0] == 1
    assert i * 100 <= AUTOSAVE_MS + 300


def test_with_the_real_widget_as_host(viewer, widget, folder, qtbot):
    """Jobs run on the widget's runner (one at a time); the widget gets the model and
    works on the opened layers."""
    panel = ProjectPanel(viewer, widget)
    qtbot.addWidget(panel)
    panel.open(folder)
    panel.open_image("cell0")
    assert widget.image_layer is panel.image_layer
    assert widget.annotations_layer is panel.annotations_layer
    panel.annotations_layer.data = scribbles(SHAPE)
    assert panel.train()
    assert widget.runner.busy and not widget.train()  # the widget waits for the project job
    outcome = finish(qtbot, panel)
    assert outcome.status == "done", outcome.message
    assert widget.model is outcome.value
    assert (folder / "annotations" / "cell0.tif").is_file()  # saved before training


def test_rgb_and_stack_images(viewer, panel, tmp_path, qtbot):
    import imageio.v3 as iio

    rgb = np.stack([disk_image(SHAPE, seed=s) for s in range(3)], -1).clip(0, 1) * 255
    iio.imwrite(tmp_path / "photo.png", rgb.astype(np.uint8))
    stack = np.stack([disk_image(SHAPE, seed=s) for s in range(3)])
    tifffile.imwrite(
        tmp_path / "stack.tif", stack, photometric="minisblack", metadata={"axes": "ZYX"}
    )
    panel.open(tmp_path)
    assert panel.names == ["photo", "stack"]

    assert panel.open_image("photo")
    assert panel.image_layer.rgb and panel.annotations_layer.data.shape == SHAPE
    assert panel.open_image("stack")  # a new (non-RGB, 3-D) image layer replaces it
    assert not panel.image_layer.rgb and panel.image_layer.data.shape == stack.shape
    assert panel.annotations_layer.data.shape == stack.shape
    assert [layer.name for layer in viewer.layers] == ["stack", "stack annotations"]
    stroke_z = (np.full(8, 1), np.full(8, 5), np.arange(8))
    panel.annotations_layer.data_setitem(stroke_z, 2)
    assert panel.save_now() is not None
    saved = tifffile.imread(tmp_path / "annotations" / "stack.tif")
    assert saved.shape == stack.shape and saved[1, 5, :8].tolist() == [2] * 8 and saved.sum() == 16


def test_project_segmentation_layer_has_the_class_colours(viewer, widget, folder):
    """The opened image's segmentation layer is styled by the class table, also after edits."""
    from napari.utils.colormaps.standardize_color import transform_color

    panel = widget.project_panel
    project = panel.open(folder)
    seg = np.zeros(SHAPE, np.uint8)
    seg[:, 24:] = 2
    seg[:, :24] = 1
    path = project.output_path("cell1")
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, seg)
    widget.classes.rename(2, "nucleus")
    widget.classes.recolor(2, "#ff8000")
    assert panel.open_image("cell1")
    layer = viewer.layers["cell1 segmentation"]
    assert panel.segmentation_layer.name == layer.name  # (the widget sees napari proxies)
    assert not layer.visible, "hidden until asked for"
    assert not layer.editable, "read-only"

    def rgb(value):
        return layer.colormap.map(np.array([value]))[0][:3]

    np.testing.assert_allclose(rgb(2), transform_color("#ff8000")[0][:3], atol=1e-3)
    assert list(layer.features["class"]) == ["unlabelled", widget.classes.names[1], "nucleus"]
    widget.classes.recolor(1, "#0000ff")  # a later edit reaches the layer too
    np.testing.assert_allclose(rgb(1), [0, 0, 1], atol=1e-3)
