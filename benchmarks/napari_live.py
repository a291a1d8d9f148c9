"""Live-mode latency per paint stroke, measured through the napari widget.

The coins demo image scaled up to ~1 MPix (909 x 1152), the ``ilastik`` extractor, the
widget's default settings.  Two strokes (one per class) start live mode; then each of
``--strokes`` more strokes is painted as napari's brush records it (one ``data_setitem``,
one paint event) and timed from the stroke until the widget has written the new
segmentation of the visible plane into the layer.  "job" is the background job alone
(train with cached features + segment the plane); the rest is the debounce
(``LIVE_DELAY_MS``), queuing and writing the layer.  Runs the viewer under Xvfb when there
is no display (like docs/scripts/napari_screenshot.py).

    .venv/bin/python benchmarks/napari_live.py [--strokes 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def strokes(reference, n, width, length, seed=0):
    """``n`` straight strokes (row, col index arrays) labelled by the reference segmentation."""
    import numpy as np
    from scipy.ndimage import binary_dilation
    from skimage.draw import line

    rng = np.random.default_rng(seed)
    h, w = reference.shape
    out = []
    while len(out) < n:
        y0, x0 = rng.integers(width, h - width), rng.integers(width, w - length - width)
        angle = rng.uniform(-0.5, 0.5)
        y1 = int(np.clip(y0 + length * np.sin(angle), 0, h - 1))
        rr, cc = line(y0, x0, y1, x0 + int(length * np.cos(angle)))
        mask = np.zeros_like(reference, bool)
        mask[rr, cc] = True
        mask = binary_dilation(mask, iterations=width // 2)
        values, counts = np.unique(reference[mask], return_counts=True)
        label = int(values[np.argmax(counts)])
        if counts.max() < 0.9 * mask.sum():
            continue  # keep strokes inside one class, as a user would
        if len(out) < 2 and label != len(out) + 1:
            continue  # the first two strokes: class 1, then class 2
        out.append((np.nonzero(mask), label))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=10)
    parser.add_argument("--scale", type=float, default=3.0, help="upscaling of coins (3: ~1 MPix)")
    parser.add_argument("--trees", type=int, default=100, help="random forest size (form 'Trees')")
    parser.add_argument("--json", help="write the timings here")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            sys.exit("no display: install Xvfb (apt-get install xvfb) or run with a display")
        cmd = [xvfb, "-a", "-s", "-screen 0 1920x1080x24", sys.executable, *sys.argv]
        sys.exit(subprocess.call(cmd))
    os.environ["QT_QPA_PLATFORM"] = "xcb"

    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication
    from skimage import data, transform

    import convpaint
    from convpaint.demo import demo_scribbles

    image = transform.rescale(data.coins(), args.scale, order=1, preserve_range=True)
    image = image.astype(np.uint8)
    small = convpaint.ConvpaintModel("ilastik").train(data.coins(), demo_scribbles())
    reference = transform.resize(
        small.segment(data.coins()), image.shape, order=0, preserve_range=True, anti_aliasing=False
    ).astype(np.uint8)
    plan = strokes(reference, args.strokes + 2, width=5, length=120)

    viewer = napari.Viewer()
    viewer.window.resize(1500, 900)
    viewer.add_image(image, name="coins-1mpix")
    _, widget = viewer.window.add_plugin_dock_widget("convpaint-napari", "Convpaint")
    widget.form.n_estimators.setValue(args.trees)
    ann = widget.new_annotations()

    def paint_and_wait(stroke):
        (rr, cc), label = stroke
        before = getattr(widget, "last_outcome", None)
        t0 = time.perf_counter()
        ann.data_setitem((rr, cc), label)  # one brush stroke: one paint event
        started = None

        def waiting():
            new = getattr(widget, "last_outcome", None) is not before
            return not new or widget.runner.busy or widget.live_timer.isActive()

        while waiting():
            QApplication.processEvents()
            if started is None and widget.runner.busy:
                started = time.perf_counter()
            time.sleep(0.001)
        t1 = time.perf_counter()
        outcome = widget.last_outcome
        return {
            "total_s": t1 - t0,
            "job_s": t1 - (started or t0),
            "status": outcome.status,
            "job": outcome.job,
            "scribbled": int(np.count_nonzero(ann.data)),
        }

    ann.data_setitem(plan[0][0], plan[0][1])
    widget.live_check.setChecked(True)
    first = paint_and_wait(plan[1])  # two classes: the first live training (cold cache)
    timings = [paint_and_wait(s) for s in plan[2:]]
    assert all(t["status"] == "done" and t["job"] == "Live" for t in [first, *timings]), timings
    seg = viewer.layers["segmentation"].data
    agree = float(np.mean(seg == reference))
    viewer.close()

    total = [t["total_s"] for t in timings]
    job = [t["job_s"] for t in timings]
    result = {
        "image": list(image.shape),
        "extractor": "ilastik",
        "trees": args.trees,
        "first_live_update_s": round(first["total_s"], 3),
        "strokes": len(timings),
        "median_total_s": round(statistics.median(total), 3),
        "worst_total_s": round(max(total), 3),
        "median_job_s": round(statistics.median(job), 3),
        "worst_job_s": round(max(job), 3),
        "scribbled_pixels_end": timings[-1]["scribbled"],
        "agreement_with_reference": round(agree, 3),
        "per_stroke_total_s": [round(t, 3) for t in total],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
