import numpy as np
import pytest
from helpers import disk_image, scribbles
from napari.utils.notifications import notification_manager

import convpaint
from convpaint.demo import demo_scribbles
from convpaint_napari.layers import ANNOTATIONS, PROBABILITIES, SEGMENTATION


def errors_since(n):
    return [str(r.message) for r in notification_manager.records[n:] if r.severity == "error"]


def test_train_from_sample_data_matches_api(viewer, widget, wait):
    viewer.open_sample("convpaint-napari", "coins")
    assert widget.image_layer.name == "coins"
    assert widget.annotations_layer.name == ANNOTATIONS
    assert widget.axes_edit.text() == "YX"
    assert widget.form.extractor.currentText() == "ilastik"
    widget.form.n_estimators.setValue(20)

    widget.train_button.click()
    wait(widget)

    assert widget.last_outcome.status == "done", widget.last_outcome.message
    from skimage import data

    image = data.coins()
    expected = convpaint.ConvpaintModel("ilastik", n_estimators=20)
    expected = expected.train(image, demo_scribbles()).segment(image)
    seg = viewer.layers[SEGMENTATION]
    np.testing.assert_array_equal(seg.data, expected)
    ann_colours = viewer.layers[ANNOTATIONS].colormap.color_dict
    assert set(ann_colours) >= {1, 2}
    for value in (1, 2):  # the class table's colours on both layers
        np.testing.assert_allclose(seg.colormap.color_dict[value], ann_colours[value])


def test_segment_all_time_series(viewer, widget, wait):
    stack = disk_image((3, 48, 48))
    stack[2] = stack[2, ::-1]  # planes differ
    viewer.add_image(stack, name="movie", axis_labels=("t", "y", "x"))
    assert widget.axes_edit.text() == "TYX"
    ann = np.zeros(stack.shape, np.uint8)
    ann[0] = scribbles((48, 48))
    viewer.add_labels(ann, name=ANNOTATIONS)

    widget.train_button.click()  # trains, then segments the visible frame
    wait(widget)
    widget.proba_check.setChecked(True)
    widget.segment_all_button.click()
    wait(widget)

    assert widget.last_outcome.status == "done", widget.last_outcome.message
    model = convpaint.ConvpaintModel("ilastik").train(stack, ann, axes="TYX")
    np.testing.assert_array_equal(viewer.layers[SEGMENTATION].data, model.segment(stack, "TYX"))
    assert widget.progress.value() == widget.progress.maximum() > 0
    proba = viewer.layers[PROBABILITIES].data
    np.testing.assert_allclose(proba, model.predict_proba(stack, "TYX"), atol=1e-6)


def test_live_mode_resegments_visible_plane_after_stroke(viewer, widget, wait):
    stack = disk_image((3, 48, 48))
    viewer.add_image(stack, name="stack")
    assert widget.axes_edit.text() == "ZYX"
    ann = viewer.add_labels(np.zeros(stack.shape, np.uint8), name=ANNOTATIONS)
    ann.data[1] = scribbles((48, 48))
    viewer.dims.set_current_step(0, 1)
    widget.live_check.setChecked(True)
    wait(widget)
    seg = viewer.layers[SEGMENTATION].data
    assert set(np.unique(seg[1])) == {1, 2}
    assert not seg[0].any() and not seg[2].any()  # only the visible plane
    assert 3 not in seg

    # a stroke of a new class, as napari's paint brush records it (one undo step)
    rr, cc = np.meshgrid(np.arange(40, 44), np.arange(4, 44), indexing="ij")
    ann.data_setitem((np.full(rr.size, 1), rr.ravel(), cc.ravel()), 3)
    assert widget.live_timer.isActive()  # debounced
    wait(widget)

    assert widget.last_outcome.job == "Live" and widget.last_outcome.status == "done"
    seg = viewer.layers[SEGMENTATION].data
    assert 3 in seg[1]
    assert list(widget.model.classes_) == [1, 2, 3]


def test_save_load_round_trip_restores_settings(viewer, widget, wait, tmp_path):
    image = disk_image()
    viewer.add_image(image, name="img")
    viewer.add_labels(scribbles(), name=ANNOTATIONS)
    form = widget.form
    form.options.setText("sigmas=[1.0, 2.0]")
    form.scalings.setText("1, 2")
    form.normalize.setCurrentText("stack")
    form.n_estimators.setValue(20)
    form.max_depth.setValue(7)
    form.seed.setValue(3)
    settings = form.settings()
    widget.train_button.click()
    wait(widget)
    before = viewer.layers[SEGMENTATION].data.copy()
    path = widget.save_model(tmp_path / "m")
    assert path.name == "m.npz" and path.is_file()

    form.options.setText("")  # back to defaults: the trained model is dropped
    form.scalings.setText("")
    form.normalize.setCurrentText("image")
    form.n_estimators.setValue(100)
    assert widget.model is None
    viewer.layers[SEGMENTATION].data = np.zeros_like(before)

    widget.load_model(path)
    restored = form.settings()
    assert restored.options["sigmas"] == [1.0, 2.0]  # the other options: ilastik's defaults
    assert restored.build().extractor.get_options() == settings.build().extractor.get_options()
    restored.options = settings.options
    assert restored == settings
    assert form.scalings.text() == "1, 2" and form.max_depth.value() == 7
    widget.segment_plane_button.click()  # no training needed
    wait(widget)
    assert widget.last_outcome.status == "done", widget.last_outcome.message
    np.testing.assert_array_equal(viewer.layers[SEGMENTATION].data, before)


def test_bad_input_shows_one_line_notification(viewer, widget, wait):
    viewer.add_image(disk_image(), name="img")
    ann = viewer.add_labels(scribbles(classes=(1,)), name=ANNOTATIONS)
    n = len(notification_manager.records)
    widget.train_button.click()
    wait(widget)
    assert widget.last_outcome.status == "error"
    [message] = errors_since(n)
    assert "class" in message and "\n" not in message and "Traceback" not in message

    ann.data = np.ones((32, 32), np.uint8)  # wrong shape
    ann.data[:4] = 2
    n = len(notification_manager.records)
    widget.train_button.click()
    wait(widget)
    [message] = errors_since(n)
    assert "shape" in message and "\n" not in message

    widget.axes_edit.setText("ZYX")  # 3 letters for a 2-D image
    n = len(notification_manager.records)
    assert not widget.train_button.click() and not widget.runner.busy
    [message] = errors_since(n)
    assert "axes" in message


def test_third_party_extractor_in_dropdown(viewer, widget, wait):
    pytest.importorskip("convpaint_testplugin")
    combo = widget.form.extractor
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names == convpaint.list_extractors() and "sobel" in names
    combo.setCurrentText("sobel")
    viewer.add_image(disk_image(), name="img")
    viewer.add_labels(scribbles(), name=ANNOTATIONS)
    widget.train_button.click()
    wait(widget)
    assert widget.last_outcome.status == "done", widget.last_outcome.message
    assert widget.model.extractor.name == "sobel"
    assert set(np.unique(viewer.layers[SEGMENTATION].data)) == {1, 2}


def test_cancel_stops_a_long_segmentation(viewer, widget, wait, qtbot):
    stack = disk_image((8, 512, 512))
    viewer.add_image(stack, name="big", axis_labels=("t", "y", "x"))
    ann = np.zeros(stack.shape, np.uint8)
    ann[0] = scribbles((512, 512))
    viewer.add_labels(ann, name=ANNOTATIONS)
    widget.train_button.click()
    wait(widget)
    assert widget.last_outcome.status == "done", widget.last_outcome.message
    seen = []

    def on_progress(done, total):
        seen.append((done, total))
        if len(seen) == 1:
            widget.cancel_button.click()

    widget.runner.progress.connect(on_progress)
    before = viewer.layers[SEGMENTATION].data.copy()
    widget.segment_all_button.click()
    wait(widget)

    assert widget.last_outcome.status == "cancelled"
    assert seen and seen[-1][0] < seen[-1][1]  # stopped before the last tile
    np.testing.assert_array_equal(viewer.layers[SEGMENTATION].data, before)  # nothing written
    assert widget.train_button.isEnabled() and not widget.cancel_button.isEnabled()
