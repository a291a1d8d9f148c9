"""Live mode with the progressive forest: a draft's result first, the full forest's at rest
(bit for bit a full fit), a stroke abandons the refinement; strokes start at once; the
warm-up when the widget opens."""

import numpy as np
import pytest
from helpers import disk_image

import convpaint
from convpaint import progressive
from convpaint_napari import live_actions
from convpaint_napari.layers import ANNOTATIONS, SEGMENTATION


def _painted(shape=(96, 96)):
    """~1500 scribbled pixels of two classes (above the draft's 1000-sample floor)."""
    ann = np.zeros(shape, np.uint8)
    ann[2:12, 4:80] = 1  # background rows
    ann[40:56, 36:60] = 2  # inside the disk
    return ann


def _refined(widget, qtbot, timeout=60_000):
    qtbot.waitUntil(
        lambda: (
            widget.last_refined is not None
            and not widget.refinement.active
            and not widget.runner.busy
        ),
        timeout=timeout,
    )


@pytest.fixture
def live(viewer, widget, wait):
    image = disk_image((96, 96))
    viewer.add_image(image, name="img")
    viewer.add_labels(_painted(), name=ANNOTATIONS)
    widget.form.n_estimators.setValue(24)
    widget.live_draft_trees = 4
    widget.live_check.setChecked(True)
    wait(widget)
    return image


def test_draft_first_then_the_full_forest_of_a_full_fit(viewer, widget, wait, qtbot, live):
    outcome = widget.last_outcome
    assert outcome.job == "Live" and outcome.status == "done", outcome.message
    assert outcome.value.refine is not None  # a draft was shown
    _refined(widget, qtbot)
    assert widget.last_refined.status == "done", widget.last_refined.message
    assert len(widget.model.classifier.estimators_) == 24
    assert not progressive.is_draft(widget.model.classifier)
    reference = convpaint.ConvpaintModel("ilastik", n_estimators=24).train(live, _painted())
    assert widget.model.fingerprint() == reference.fingerprint()
    np.testing.assert_array_equal(viewer.layers[SEGMENTATION].data, reference.segment(live))


def test_a_stroke_abandons_the_refinement(viewer, widget, wait, qtbot, live):
    assert widget.refinement.active  # scheduled after the draft's result
    ann = viewer.layers[ANNOTATIONS]
    rr, cc = np.meshgrid(np.arange(80, 84), np.arange(4, 40), indexing="ij")
    ann.data_setitem((rr.ravel(), cc.ravel()), 1)
    assert not widget.refinement.timer.isActive()  # the stroke dropped it
    wait(widget)
    _refined(widget, qtbot)
    expected = _painted()
    expected[80:84, 4:40] = 1
    reference = convpaint.ConvpaintModel("ilastik", n_estimators=24).train(live, expected)
    assert widget.model.fingerprint() == reference.fingerprint()  # the new stroke's forest
    np.testing.assert_array_equal(viewer.layers[SEGMENTATION].data, reference.segment(live))


def test_a_stroke_starts_the_update_without_the_debounce(viewer, widget, wait, qtbot, live):
    _refined(widget, qtbot)
    ann = viewer.layers[ANNOTATIONS]
    rr, cc = np.meshgrid(np.arange(86, 90), np.arange(10, 50), indexing="ij")
    ann.data_setitem((rr.ravel(), cc.ravel()), 1)
    qtbot.waitUntil(lambda: widget.runner.busy, timeout=2_000)
    assert widget.live_timer.isActive()  # the debounced call follows and finds nothing new
    wait(widget)
    n = int(np.count_nonzero(ann.data))
    assert widget.last_outcome.value.summary.startswith(f"Trained on {n} scribbled pixels")


def test_segment_plane_after_a_draft_uses_the_full_forest(viewer, widget, wait, live):
    assert progressive.is_draft(widget.model.classifier)
    widget.segment_plane_button.click()  # before the refinement: the job fits it itself
    wait(widget)
    assert widget.last_outcome.status == "done"
    assert not progressive.is_draft(widget.model.classifier)
    reference = convpaint.ConvpaintModel("ilastik", n_estimators=24).train(live, _painted())
    np.testing.assert_array_equal(viewer.layers[SEGMENTATION].data, reference.segment(live))


def test_no_draft_when_turned_off(viewer, widget, wait):
    viewer.add_image(disk_image((96, 96)), name="img")
    viewer.add_labels(_painted(), name=ANNOTATIONS)
    widget.form.n_estimators.setValue(24)
    widget.live_draft_trees = 0
    widget.live_check.setChecked(True)
    wait(widget)
    assert widget.last_outcome.value.refine is None
    assert len(widget.model.classifier.estimators_) == 24 and not widget.refinement.active


def test_warm_up_runs_once_per_extractor(monkeypatch):
    calls = []
    monkeypatch.setattr(live_actions, "_warmed", set())
    monkeypatch.setattr("convpaint.demo.warm_up", lambda name: calls.append(name) or {"x": 1.0})
    assert live_actions.warm_up("raw") == {"x": 1.0}
    assert live_actions.warm_up("raw") == {}
    assert calls == ["raw"]


def test_the_widget_warms_up_in_a_thread(make_napari_viewer, monkeypatch, qtbot):
    calls = []
    monkeypatch.setattr(live_actions, "_warmed", set())
    monkeypatch.setattr("convpaint.demo.warm_up", lambda name: calls.append(name) or {})
    monkeypatch.setenv(live_actions.WARM_UP_ENV, "1")
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("convpaint-napari", "Convpaint")
    qtbot.waitUntil(lambda: not widget.warm_up_worker.is_running, timeout=10_000)
    assert calls == [widget.settings().extractor]
    monkeypatch.setenv(live_actions.WARM_UP_ENV, "0")
    assert widget.start_warm_up() is None
