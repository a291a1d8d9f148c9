"""Live-mode latency per paint stroke, measured through the napari widget.

The coins demo image scaled up (``--scale 3``: 909 x 1152, ~1 MPix; ``6``: 1818 x 2304,
~4 MPix), the ``ilastik`` extractor, the widget's default settings, the canvas at
``--zoom`` (1: one screen pixel per image pixel, the default).  Two strokes (one per class)
start live mode; then each of ``--strokes`` more strokes, inside the field of view, is
painted as napari's brush records it (one ``data_setitem``, one paint event) and timed from
the stroke until the widget has written the new segmentation into the layer.  "job" is the
background job alone (train with cached features + segment); the rest is the debounce
(150 ms), queuing and writing the layer.

Live mode segments the field of view (``view.visible_region``, "fov"); ``--whole-plane``
swaps it for the whole plane (``layers.plane_region``, "plane": before that change).
``--interleave`` alternates the two stroke by stroke in one run (same scribbles, same
machine load); ``--coarse`` adds a third mode, field of view with a ``downsample=2``
result shown first (``widget.live_coarse``), timed to that first answer and to the full
one.  Afterwards, without the GUI, the final model's parts of one live update
are timed on the field of view (features cached): the fit, the segmentation, and a
``downsample=2`` segmentation (what a "coarse result first" would cost).  Runs the viewer
under Xvfb when there is no display.

    .venv/bin/python benchmarks/napari_live.py --scale 3 --scale 6 --interleave --coarse \\
        --strokes 12 --json docs/benchmarks/napari-live-fov.json
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


def strokes(reference, n, width, length, bounds, seed=0):
    """``n`` straight strokes (row, col index arrays) labelled by the reference
    segmentation, inside ``bounds`` ((y0, y1), (x0, x1))."""
    import numpy as np
    from scipy.ndimage import binary_dilation
    from skimage.draw import line

    rng = np.random.default_rng(seed)
    (top, bottom), (left, right) = bounds
    out = []
    while len(out) < n:
        y0 = rng.integers(top + width, bottom - width)
        x0 = rng.integers(left + width, right - length - width)
        angle = rng.uniform(-0.5, 0.5)
        y1 = int(np.clip(y0 + length * np.sin(angle), top, bottom - 1))
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


def _display() -> None:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            sys.exit("no display: install Xvfb (apt-get install xvfb) or run with a display")
        cmd = [xvfb, "-a", "-s", "-screen 0 1920x1080x24", sys.executable, *sys.argv]
        sys.exit(subprocess.call(cmd))
    os.environ["QT_QPA_PLATFORM"] = "xcb"


def measure(scale: float, modes: list[str], args: argparse.Namespace) -> dict:
    """One viewer on the coins image at ``scale``; strokes cycle through ``modes``."""
    import napari
    import numpy as np
    from qtpy.QtWidgets import QApplication
    from skimage import data, transform

    import convpaint
    from convpaint.demo import demo_scribbles
    from convpaint_napari import layers, view

    image = transform.rescale(data.coins(), scale, order=1, preserve_range=True)
    image = image.astype(np.uint8)
    small = convpaint.ConvpaintModel("ilastik").train(data.coins(), demo_scribbles())
    reference = transform.resize(
        small.segment(data.coins()), image.shape, order=0, preserve_range=True, anti_aliasing=False
    ).astype(np.uint8)

    fov_region = view.visible_region
    mode = {"now": modes[0]}

    def region(viewer, layer, axes):  # what live mode classifies, by mode
        if mode["now"] == "plane":
            return layers.plane_region(viewer, layer, axes)
        return fov_region(viewer, layer, axes)

    view.visible_region = region
    viewer = napari.Viewer()
    viewer.window.resize(1500, 900)
    layer = viewer.add_image(image, name="coins")
    _, widget = viewer.window.add_plugin_dock_widget("convpaint-napari", "Convpaint")
    widget.form.n_estimators.setValue(args.trees)
    for _ in range(20):
        QApplication.processEvents()
    view.camera(viewer).zoom = args.zoom
    for _ in range(50):
        QApplication.processEvents()
    shown = fov_region(viewer, layer, "YX")
    bounds = [
        (s.start or 0, s.stop or n) if isinstance(s, slice) else (0, n)
        for s, n in zip(shown, image.shape, strict=True)
    ]
    fov_px = int(np.prod([b - a for a, b in bounds]))
    n_warm = 2 + len(modes)  # two classes, then one cold update per mode
    plan = strokes(reference, args.strokes + n_warm, width=5, length=120, bounds=bounds)
    ann = widget.new_annotations()

    def paint_and_wait(stroke, kind):
        (rr, cc), label = stroke
        mode["now"] = "fov" if kind == "coarse" else kind
        widget.live_coarse = 2 if kind == "coarse" else 0
        before, shown = widget.last_outcome, widget.last_partial
        first_s = None
        t0 = time.perf_counter()
        ann.data_setitem((rr, cc), label)  # one brush stroke: one paint event
        started = None

        def waiting():
            new = widget.last_outcome is not before
            return not new or widget.runner.busy or widget.live_timer.isActive()

        while waiting():
            QApplication.processEvents()
            if started is None and widget.runner.busy:
                started = time.perf_counter()
            if first_s is None and widget.last_partial is not shown:
                first_s = time.perf_counter() - t0
            time.sleep(0.001)
        t1 = time.perf_counter()
        outcome = widget.last_outcome
        row = {
            "mode": kind,
            "total_s": t1 - t0,
            "job_s": t1 - (started or t0),
            "first_answer_s": first_s if first_s is not None else t1 - t0,
            "status": outcome.status,
            "job": outcome.job,
            "region": str(outcome.value.region) if outcome.status == "done" else "",
            "scribbled": int(np.count_nonzero(ann.data)),
        }
        return row

    ann.data_setitem(plan[0][0], plan[0][1])
    widget.live_check.setChecked(True)
    first = paint_and_wait(plan[1], modes[0])  # two classes: the first live update (cold)
    warm = [paint_and_wait(s, m) for s, m in zip(plan[2:n_warm], modes, strict=True)]
    timings = []
    for i, s in enumerate(plan[n_warm:]):
        kind = modes[i % len(modes)]
        timings.append(paint_and_wait(s, kind))
    bad = [t for t in [first, *warm, *timings] if t["status"] != "done" or t["job"] != "Live"]
    assert not bad, bad
    scribbles = np.array(ann.data, copy=True)
    seg = np.asarray(viewer.layers["segmentation"].data)
    inside = tuple(slice(a, b) for a, b in bounds)
    agree = float(np.mean(seg[inside] == reference[inside]))
    viewer.close()
    view.visible_region = fov_region

    # one live update's parts with the final model (no GUI; features cached): the fit,
    # the view's segmentation, and at downsample 2 (the second call: its features cached)
    model = widget.model

    def seconds(fn):
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    fit_s = seconds(lambda: model.train(image, scribbles, "YX"))
    seg_s, found = {}, {}
    for ds in (1, 2):
        found[ds] = model.segment(image, "YX", region=inside, downsample=ds)
        seg_s[ds] = seconds(lambda ds=ds: model.segment(image, "YX", region=inside, downsample=ds))

    out = {
        "image": list(image.shape),
        "mpix": round(image.size / 1e6, 2),
        "zoom": args.zoom,
        "fov": [list(b) for b in bounds],
        "fov_mpix": round(fov_px / 1e6, 2),
        "first_live_update_s": round(first["total_s"], 3),
        "agreement_in_view": round(agree, 3),
        "fit_s": round(fit_s, 3),
        "segment_view_s": round(seg_s[1], 3),
        "segment_view_downsample2_s": round(seg_s[2], 3),
        "downsample2_agrees_with_full": round(float(np.mean(found[1] == found[2])), 3),
        "modes": {},
        "strokes": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in t.items()}
                    for t in timings],
    }  # fmt: skip
    for kind in modes:
        rows = [t for t in timings if t["mode"] == kind]
        total, job = [t["total_s"] for t in rows], [t["job_s"] for t in rows]
        first_answer = [t["first_answer_s"] for t in rows]
        out["modes"][kind] = {
            "strokes": len(rows),
            "median_first_answer_s": round(statistics.median(first_answer), 3),
            "worst_first_answer_s": round(max(first_answer), 3),
            "median_total_s": round(statistics.median(total), 3),
            "worst_total_s": round(max(total), 3),
            "median_job_s": round(statistics.median(job), 3),
            "worst_job_s": round(max(job), 3),
            "regions": sorted({t["region"] for t in rows}),
        }
    return out


def markdown(results: list[dict]) -> str:
    lines = [
        "| image | field of view | live classifies | strokes | median per stroke s | worst s "
        "| median job s | worst job s | median first answer s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    label = {
        "plane": "whole plane (before)",
        "fov": "field of view (after)",
        "coarse": "field of view, downsample 2 first",
    }
    for r in results:
        for kind, m in r["modes"].items():
            lines.append(
                f"| {r['image'][0]} x {r['image'][1]} ({r['mpix']} MPix) | {r['fov_mpix']} MPix "
                f"| {label[kind]} | {m['strokes']} | {m['median_total_s']:.2f} "
                f"| {m['worst_total_s']:.2f} | {m['median_job_s']:.2f} | {m['worst_job_s']:.2f} "
                f"| {m['median_first_answer_s']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=10, help="measured strokes per image")
    parser.add_argument(
        "--scale", type=float, action="append", help="upscaling of coins (3: ~1 MPix), repeatable"
    )
    parser.add_argument("--zoom", type=float, default=1.0, help="camera zoom (1: 1:1)")
    parser.add_argument("--whole-plane", action="store_true", help="live on the whole plane")
    parser.add_argument("--interleave", action="store_true", help="alternate plane and view")
    parser.add_argument(
        "--coarse", action="store_true", help="also a mode: downsample-2 result first, then full"
    )
    parser.add_argument("--trees", type=int, default=100, help="random forest size (form 'Trees')")
    parser.add_argument("--json", help="write the timings here")
    parser.add_argument("--markdown", help="write the table here")
    args = parser.parse_args()
    _display()
    modes = ["plane", "fov"] if args.interleave else ["plane" if args.whole_plane else "fov"]
    modes += ["coarse"] if args.coarse else []
    results = [measure(s, modes, args) for s in (args.scale or [3.0])]
    load = os.getloadavg()
    doc = {"load_average_1_5_15": [round(x, 2) for x in load], "results": results}
    print(json.dumps(doc, indent=2))
    table = markdown(results)
    print(table)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(doc, fh, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(table)


if __name__ == "__main__":
    main()
