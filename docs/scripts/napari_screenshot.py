"""Screenshots of napari with the Convpaint widget, driven through the widget as a user would.

Writes to ``docs/images/``:

- ``napari-convpaint.png``: the coins demo (sample data + shipped scribbles) after Train;
- ``napari-classes.png``: the Classes tab with named, recoloured classes;
- ``napari-instances.png``: the Outputs tab, instances of the coins (min size, split touching);
- ``napari-project.png``: the Project tab on a project of four images (one annotated),
  trained and segmented to disk, one image opened from the table;
- ``napari-suggestions.png``: the Tools tab, boxes where the model is least sure;
- ``napari-model.png``: the Model tab, ``dinov2`` with the ``guided`` upsampler: both forms
  generated from the options the extractor and the upsampler declare.

Needs a display with OpenGL; without one it re-runs itself under ``xvfb-run`` (Debian:
``apt-get install xvfb xauth libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0``)::

    .venv/bin/python docs/scripts/napari_screenshot.py [-o docs/images] [--only classes ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ("convpaint", "classes", "instances", "project", "suggestions", "model")


def settle(seconds: float = 1.0) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def wait(runner, what: str, timeout: float = 300) -> None:
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while runner.busy and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)
    if runner.busy:
        sys.exit(f"{what}: still running after {timeout} s")
    settle(0.3)


def fresh_viewer():
    import napari

    viewer = napari.Viewer(title="napari: Convpaint")
    viewer.window.resize(1560, 900)
    dock, widget = viewer.window.add_plugin_dock_widget("convpaint-napari", "Convpaint")
    from qtpy.QtCore import Qt

    viewer.window._qt_window.resizeDocks([dock], [480], Qt.Orientation.Horizontal)
    return viewer, widget


def train_on_coins(viewer, widget) -> None:
    viewer.open_sample("convpaint-napari", "coins")
    widget.train_button.click()  # train on the scribbles, segment the visible plane
    wait(widget.runner, "training")
    outcome = widget.last_outcome
    if outcome.status != "done":
        sys.exit(f"training through the widget failed: {outcome.status} {outcome.message}")


def snap(viewer, widget, out: Path, name: str, tab: str | None = None) -> Path:
    from convpaint_napari.panel import TABS

    if tab is not None:
        widget.tabs.setCurrentIndex(TABS.index(tab))
    settle(1.0)
    path = out / f"napari-{name}.png"
    viewer.screenshot(path=str(path), canvas_only=False, flash=False)
    print(f"{name}: {widget.status.text()}\n  wrote {path}")
    return path


def shot_convpaint(out: Path) -> None:
    viewer, widget = fresh_viewer()
    train_on_coins(viewer, widget)
    viewer.layers["annotations"].opacity = 1.0
    viewer.layers["segmentation"].opacity = 0.45
    viewer.layers["probabilities"].visible = False
    viewer.layers.selection.active = viewer.layers["annotations"]
    viewer.reset_view()
    snap(viewer, widget, out, "convpaint", "Paint & train")
    viewer.close()


def shot_classes(out: Path) -> None:
    import numpy as np

    viewer, widget = fresh_viewer()
    table = widget.classes
    table.rename(1, "background")
    table.rename(2, "coin")
    table.recolor(1, "#4363d8")
    table.recolor(2, "#ffe119")
    table.add_class("rim", "#e6194b")
    train_on_coins(viewer, widget)
    viewer.layers["probabilities"].visible = False
    seg = viewer.layers["segmentation"]
    seg.opacity = 0.5
    viewer.layers.selection.active = seg
    viewer.reset_view()
    coin = np.argwhere(seg.data == 2)
    viewer.cursor.position = tuple(seg.data_to_world(coin[len(coin) // 2]))  # status bar: "coin"
    snap(viewer, widget, out, "classes", "Classes")
    viewer.close()


def shot_instances(out: Path) -> None:
    viewer, widget = fresh_viewer()
    widget.outputs.instances_check.setChecked(True)
    widget.outputs.min_size.setValue(30)
    train_on_coins(viewer, widget)
    for name in ("probabilities", "segmentation", "annotations"):
        viewer.layers[name].visible = False
    viewer.layers["instances"].opacity = 0.7
    viewer.reset_view()
    snap(viewer, widget, out, "instances", "Outputs")
    viewer.close()


def shot_project(out: Path, folder: Path) -> None:
    import numpy as np
    import tifffile
    from skimage import data

    from convpaint.demo import demo_scribbles

    coins = data.coins()
    images = folder / "images"
    images.mkdir(parents=True)
    variants = {
        "coins": coins,
        "coins-flipped": coins[:, ::-1],
        "coins-upside-down": coins[::-1],
        "coins-dim": (coins * 0.7).astype(np.uint8),
    }
    for name, image in variants.items():
        tifffile.imwrite(images / f"{name}.tif", np.ascontiguousarray(image))
    viewer, widget = fresh_viewer()
    panel = widget.project_panel
    if panel is None:
        sys.exit("no Project tab (convpaint_napari.project_panel is missing)")
    panel.open(folder)
    panel.project.save_annotations("coins", demo_scribbles())
    panel.refresh()
    panel.train()
    wait(widget.runner, "project training")
    panel.segment_all()
    wait(widget.runner, "project segmentation")
    panel.open_image("coins-flipped")
    settle(0.5)
    segmentation = viewer.layers["coins-flipped segmentation"]
    segmentation.visible, segmentation.opacity = True, 0.5
    viewer.reset_view()
    print(f"project: {panel.status.text()}")
    snap(viewer, widget, out, "project", "Project")
    viewer.close()


def shot_suggestions(out: Path) -> None:
    viewer, widget = fresh_viewer()
    widget.outputs.uncertainty_check.setChecked(True)
    train_on_coins(viewer, widget)
    viewer.layers["probabilities"].visible = False
    viewer.layers["segmentation"].visible = False
    widget.suggest_count.setValue(4)
    widget.suggest()
    viewer.reset_view()
    snap(viewer, widget, out, "suggestions", "Tools")
    viewer.close()


def shot_model(out: Path) -> None:
    viewer, widget = fresh_viewer()
    viewer.open_sample("convpaint-napari", "coins")
    form = widget.form
    form.extractor.setCurrentText("dinov2")
    form.upsampler.setCurrentText("guided")
    form.upsampler_options.fields["radius"].set_value(2)
    snap(viewer, widget, out, "model", "Model")
    viewer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--only", nargs="+", choices=SHOTS, default=list(SHOTS))
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            sys.exit("no display: install Xvfb (apt-get install xvfb) or run with a display")
        cmd = [xvfb, "-a", "-s", "-screen 0 1920x1080x24", sys.executable, *sys.argv]
        sys.exit(subprocess.call(cmd))

    os.environ["QT_QPA_PLATFORM"] = "xcb"
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for shot in args.only:
            if shot == "project":
                shot_project(args.out, Path(tmp) / "project")
            else:
                globals()[f"shot_{shot}"](args.out)


if __name__ == "__main__":
    main()
