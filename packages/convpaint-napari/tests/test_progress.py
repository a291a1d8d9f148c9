"""The progress bar and stage line are coalesced: a job's per-tile updates reach the screen
at most every PROGRESS_MS (each repaint recomposes napari's OpenGL window)."""

from convpaint_napari.panel import PROGRESS_MS, ConvpaintPanel


def test_progress_updates_are_coalesced(qtbot):
    panel = ConvpaintPanel()
    qtbot.addWidget(panel)
    panel.set_busy(True, "Live")
    values = []
    panel.progress.valueChanged.connect(values.append)
    for done in range(1, 31):
        panel.show_progress(done, 30)
        panel.show_stage(f"Live: tile {done}…")
    assert values == [] and panel.status.text() == "Live…"  # nothing shown yet
    qtbot.waitUntil(lambda: bool(values), timeout=10 * PROGRESS_MS)
    assert values == [30] and panel.progress.maximum() == 30
    assert panel.status.text() == "Live: tile 30…"  # the latest, once


def test_pending_progress_is_dropped_when_the_job_ends(qtbot):
    panel = ConvpaintPanel()
    qtbot.addWidget(panel)
    panel.set_busy(True, "Train")
    panel.show_progress(3, 10)
    panel.show_stage("Train: fitting…")
    panel.set_busy(False)
    panel.status.setText("Train: done.")
    qtbot.wait(2 * PROGRESS_MS)
    assert panel.progress.value() == 0 and panel.status.text() == "Train: done."
