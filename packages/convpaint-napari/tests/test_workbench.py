"""The workbench: tabs, shortcuts, layer checks, feedback, Reset and live mode on the
field of view."""

import numpy as np
from helpers import disk_image, scribbles
from napari.utils.key_bindings import KeymapHandler, coerce_keybinding

from convpaint_napari import shortcuts
from convpaint_napari.layers import ANNOTATIONS, SEGMENTATION
from convpaint_napari.panel import TABS


def press(viewer, key):
    """Press ``key`` as the viewer's canvas would (the active layer's keys first)."""
    handler = getattr(getattr(viewer.window, "_qt_viewer", None), "_key_map_handler", None)
    if handler is None:
        handler = KeymapHandler()
        handler.keymap_providers = [viewer]
    assert handler.press_key(key), f"{key} is not bound"
    handler.release_key(key)


def colour(layer, value):
    return np.asarray(layer.colormap.color_dict[value])[:3]


def test_tabs_and_buttons_disabled_until_trained(viewer, widget):
    titles = [widget.tabs.tabText(i).replace("&&", "&") for i in range(widget.tabs.count())]
    assert titles == list(TABS)
    viewer.add_image(disk_image(), name="img")
    for button in (widget.segment_plane_button, widget.segment_all_button, widget.save_button):
        assert not button.isEnabled()
    assert widget.train_button.isEnabled()
    assert widget.proba_check.isChecked()  # probabilities on by default
    assert "Documentation" in widget.docs_link.text()


def test_shortcuts_trigger_their_actions(viewer, widget, wait):
    viewer.add_image(disk_image(), name="img")
    ann = viewer.add_labels(scribbles(), name=ANNOTATIONS)
    viewer.layers.selection.active = ann
    press(viewer, "Shift-S")
    assert widget.runner.busy and widget.runner.job == "Training"
    wait(widget)
    assert widget.last_outcome.status == "done"
    seg = viewer.layers[SEGMENTATION]
    seg.data = np.zeros_like(seg.data)
    press(viewer, "Shift-D")
    wait(widget)
    assert widget.last_outcome.job == "Segmenting the plane" and seg.data.any()
    press(viewer, "Shift-A")
    assert not ann.visible
    press(viewer, "Shift-F")
    assert not seg.visible
    press(viewer, "Shift-E")  # class 3
    assert ann.selected_label == 3 and ann.mode == "paint" and 3 in widget.classes.names
    press(viewer, "Shift-G")
    assert len(viewer.layers["suggestions"].data) > 0
    text = widget.shortcuts_label.text()
    assert all(s.key.replace("-", "+") in text for s in shortcuts.SHORTCUTS[:5])
    shortcuts.unbind(viewer)  # what closing the widget does
    assert coerce_keybinding("Shift-S") not in viewer.keymap


def test_wrong_shape_layer_reported_on_selection(viewer, widget):
    viewer.add_image(disk_image((64, 64)), name="img")
    viewer.add_labels(np.zeros((32, 32), np.uint8), name="small")
    widget.annotations_combo.setCurrentText("small")
    assert widget.layer_problem.isVisibleTo(widget)
    assert "(32, 32)" in widget.layer_problem.text() and "(64, 64)" in widget.layer_problem.text()
    viewer.add_labels(np.zeros((64, 64), np.uint8), name=ANNOTATIONS)
    widget.annotations_combo.setCurrentText(ANNOTATIONS)
    assert not widget.layer_problem.isVisibleTo(widget)


def test_live_segments_the_field_of_view(viewer, widget, wait):
    image = disk_image((256, 320))
    viewer.add_image(image, name="img")
    ann = viewer.add_labels(np.zeros((256, 320), np.uint8), name=ANNOTATIONS)
    ann.data[100:104, 120:200] = 1
    ann.data[126:130, 150:170] = 2
    viewer.canvas.size = (100, 120)  # height, width in screen pixels
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    camera.zoom = 2.0
    camera.center = (0.0, 128.0, 160.0)  # world Y 103..153, X 130..190 visible
    widget.live_check.setChecked(True)
    wait(widget)
    assert widget.last_outcome.job == "Live" and widget.last_outcome.status == "done"
    seg = viewer.layers[SEGMENTATION].data
    region = widget.last_outcome.value.region
    assert region == (slice(103, 154), slice(130, 191))
    full = widget.model.segment(image)
    np.testing.assert_array_equal(seg[region], full[region])
    outside = np.ones(seg.shape, bool)
    outside[region] = False
    assert not seg[outside].any()  # the rest only when asked
    widget.segment_plane_button.click()
    wait(widget)
    np.testing.assert_array_equal(viewer.layers[SEGMENTATION].data, full)


def test_reset_forgets_the_model(viewer, widget, wait):
    viewer.add_image(disk_image(), name="img")
    viewer.add_labels(scribbles(), name=ANNOTATIONS)
    widget.form.n_estimators.setValue(10)
    widget.classes.rename(1, "sky")
    widget.train_button.click()
    wait(widget)
    assert widget.segment_plane_button.isEnabled()
    widget.reset()
    assert widget.model is None and not widget.segment_plane_button.isEnabled()
    assert widget.form.n_estimators.value() == 100 and widget.classes.names[1] == "class 1"


def test_live_coarse_result_first_then_the_full_one(viewer, widget, wait):
    """``live_coarse = 2``: a live job shows a downsample-2 segmentation of the view first
    (``runner.partial``), then the full-resolution one replaces it."""
    image = disk_image((96, 96))
    viewer.add_image(image, name="img")
    viewer.add_labels(scribbles((96, 96)), name=ANNOTATIONS)
    widget.live_coarse = 2
    shown = []
    widget.runner.partial.connect(lambda r: shown.append(r.labels.copy()))
    widget.live_check.setChecked(True)
    wait(widget)
    assert widget.last_outcome.job == "Live" and widget.last_outcome.status == "done"
    assert shown and widget.last_partial is not None
    model = widget.model
    np.testing.assert_array_equal(shown[-1], model.segment(image, downsample=2))
    np.testing.assert_array_equal(viewer.layers[SEGMENTATION].data, model.segment(image))
    widget.live_check.setChecked(False)
    wait(widget)
    n = len(shown)
    widget.segment_plane_button.click()  # not live: no coarse result
    wait(widget)
    assert len(shown) == n and widget.last_outcome.job == "Segmenting the plane"
