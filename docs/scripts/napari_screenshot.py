"""Screenshot of napari with the Convpaint widget on the coins demo, driven through the widget.

Opens the plugin's sample data (coins + shipped scribbles), docks the widget, presses
Train (train + segment the visible plane) and writes ``docs/images/napari-convpaint.png``.
Needs a display with OpenGL; without one it re-runs itself under ``xvfb-run`` (Debian:
``apt-get install xvfb libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-cursor0
libxcb-icccm4 libxcb-keysyms1 libxcb-shape0``)::

    .venv/bin/python docs/scripts/napari_screenshot.py [-o docs/images]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            sys.exit("no display: install Xvfb (apt-get install xvfb) or run with a display")
        cmd = [xvfb, "-a", "-s", "-screen 0 1920x1080x24", sys.executable, *sys.argv]
        sys.exit(subprocess.call(cmd))

    os.environ["QT_QPA_PLATFORM"] = "xcb"
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="napari: Convpaint")
    viewer.window.resize(1500, 860)
    viewer.open_sample("convpaint-napari", "coins")
    _, widget = viewer.window.add_plugin_dock_widget("convpaint-napari", "Convpaint")

    widget.train_button.click()  # train on the scribbles, segment the visible plane
    deadline = time.monotonic() + 300
    while widget.runner.busy and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)
    outcome = widget.last_outcome
    if outcome.status != "done":
        sys.exit(f"training through the widget failed: {outcome.status} {outcome.message}")
    viewer.layers["annotations"].opacity = 1.0
    viewer.layers["segmentation"].opacity = 0.45
    viewer.layers.selection.active = viewer.layers["annotations"]
    viewer.reset_view()
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "napari-convpaint.png"
    viewer.screenshot(path=str(path), canvas_only=False, flash=False)
    print(f"{widget.status.text()}\nwrote {path}")
    viewer.close()


if __name__ == "__main__":
    main()
