"""Live-mode latency per paint stroke, measured through the napari widget.

The coins demo image scaled up (``--scale 3``: 909 x 1152, ~1 MPix; ``6``: 1818 x 2304,
~4 MPix), the ``ilastik`` extractor, ``--trees`` (100) trees, the canvas at ``--zoom``
(1: one screen pixel per image pixel) in a 1500 x 900 window.  ``--painted`` pixels
(repeatable; default 2000) are scribbled in the field of view before live mode starts;
then each of ``--strokes`` strokes (5 px wide, 20-40 px long, one class each) is painted
as napari's brush records it (one ``data_setitem``, one paint event) and timed from the
stroke until the widget has written the new segmentation into the layer ("per stroke");
"job" is the background job and writing the layer; "full result": until the full
forest's segmentation replaced the draft's (progressive mode, the user pausing).

``--modes draft,full`` (default) alternates stroke by stroke: ``draft`` = live mode with
the progressive forest (``widget.live_draft_trees = --draft-trees``), ``full`` = the full
forest at every stroke (``live_draft_trees = 0``); both see the same scribbles (growing by
one stroke per step) and the same machine load; ``2 x modes`` strokes warm up first.
``--pause`` seconds of idle GUI follow each stroke (after its refinement).  With the code
before the progressive forest (``PYTHONPATH`` of an older checkout's ``packages/*/src``)
only ``full`` runs.  Each stroke's ``parts_s`` gives the seconds spent in the timed calls
of the update (samples, fit, segment, writing the layer); afterwards, without the GUI,
fit and view segmentation with the final scribbles are timed per forest size.  Between
events the GUI thread idles in Qt's event loop, as it does in napari (``--poll``: call
``processEvents`` every 1-2 ms, as runs before 2026-12-03 did).  Runs the viewer under Xvfb
when there is no display; there napari's canvas renders in software (Mesa llvmpipe), which
also recomposes the window on every repaint of a control.

    .venv/bin/python benchmarks/napari_live.py --scale 3 --scale 6 --painted 2000 \\
        --painted 20000 --strokes 8 --json docs/benchmarks/napari-live-progressive.json
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


def strokes(reference, n, width, length, bounds, seed=0, first_two=True):
    """``n`` straight strokes (row, col index arrays) labelled by the reference
    segmentation, inside ``bounds`` ((y0, y1), (x0, x1)); ``length`` in pixels or a
    (min, max) range; ``first_two``: the first two are class 1, then class 2."""
    import numpy as np
    from scipy.ndimage import binary_dilation
    from skimage.draw import line

    rng = np.random.default_rng(seed)
    lo, hi = (length, length) if isinstance(length, int) else length
    (top, bottom), (left, right) = bounds
    out = []
    while len(out) < n:
        size = int(rng.integers(lo, hi + 1))
        y0 = rng.integers(top + width, bottom - width)
        x0 = rng.integers(left + width, right - size - width)
        angle = rng.uniform(-0.5, 0.5)
        y1 = int(np.clip(y0 + size * np.sin(angle), top, bottom - 1))
        rr, cc = line(y0, x0, y1, x0 + int(size * np.cos(angle)))
        lo_y, lo_x = max(0, min(rr) - width), max(0, min(cc) - width)
        box = (slice(lo_y, max(rr) + width + 1), slice(lo_x, max(cc) + width + 1))
        mask = np.zeros((box[0].stop - lo_y, box[1].stop - lo_x), bool)
        mask[rr - lo_y, cc - lo_x] = True
        mask = binary_dilation(mask, iterations=width // 2)
        values, counts = np.unique(reference[box][mask], return_counts=True)
        label = int(values[np.argmax(counts)])
        if counts.max() < 0.9 * mask.sum():
            continue  # keep strokes inside one class, as a user would
        if first_two and len(out) < 2 and label != len(out) + 1:
            continue  # the first two strokes: class 1, then class 2
        ys, xs = np.nonzero(mask)
        out.append(((ys + lo_y, xs + lo_x), label))
    return out


def _timers() -> dict:
    """Seconds spent per stroke in the calls of one live update (patched in place):
    collecting samples, fitting, segmenting (worker thread), writing the result layers
    and the class check (GUI thread)."""
    import threading

    import convpaint
    from convpaint_napari import results, tasks

    spent: dict = {}
    lock = threading.Lock()

    def timed(owner, name, label):
        fn = getattr(owner, name, None)
        if fn is None:
            return

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                with lock:
                    spent[label] = spent.get(label, 0.0) + time.perf_counter() - t

        setattr(owner, name, wrapper)

    model = convpaint.ConvpaintModel
    timed(model, "training_samples", "samples")
    timed(model, "train", "train (samples + fit)")
    timed(model, "segment", "segment")
    timed(model, "install_classifier", "install")
    timed(results, "show", "show (GUI)")
    timed(tasks, "count_classes", "class check (GUI)")
    try:
        from sklearn.ensemble import RandomForestClassifier

        from convpaint import fast_fit

        timed(fast_fit.IntelexRandomForest, "fit", "fit")
        timed(RandomForestClassifier, "fit", "fit (scikit-learn)")
    except ImportError:
        pass
    return spent


def _display() -> None:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            sys.exit("no display: install Xvfb (apt-get install xvfb) or run with a display")
        cmd = [xvfb, "-a", "-s", "-screen 0 1920x1080x24", sys.executable, *sys.argv]
        sys.exit(subprocess.call(cmd))
    os.environ["QT_QPA_PLATFORM"] = "xcb"


def measure(scale: float, painted: int, args: argparse.Namespace) -> dict:
    """One viewer on the coins image at ``scale`` with ``painted`` pixels already scribbled in
    the field of view; then ``--strokes`` strokes, cycling through the modes."""
    import napari
    import numpy as np
    from qtpy.QtCore import QEventLoop, QTimer
    from qtpy.QtWidgets import QApplication
    from skimage import data, transform

    import convpaint
    from convpaint.demo import demo_scribbles
    from convpaint_napari import view

    image = transform.rescale(data.coins(), scale, order=1, preserve_range=True)
    image = image.astype(np.uint8)
    small = convpaint.ConvpaintModel("ilastik").train(data.coins(), demo_scribbles())
    reference = transform.resize(
        small.segment(data.coins()), image.shape, order=0, preserve_range=True, anti_aliasing=False
    ).astype(np.uint8)

    spent = _timers()
    viewer = napari.Viewer()
    viewer.window.resize(1500, 900)
    layer = viewer.add_image(image, name="coins")
    _, widget = viewer.window.add_plugin_dock_widget("convpaint-napari", "Convpaint")
    widget.form.n_estimators.setValue(args.trees)
    progressive = hasattr(widget, "live_draft_trees")  # False: the code before it
    modes = [m for m in args.modes if progressive or m == "full"]

    def events(seconds=0.0):
        if args.poll:
            end = time.perf_counter() + seconds
            while True:
                QApplication.processEvents()
                if time.perf_counter() >= end:
                    return
                time.sleep(0.002)
        loop = QEventLoop()
        QTimer.singleShot(max(0, int(seconds * 1000)), loop.quit)
        loop.exec()

    def wait_until(done, timeout=60.0):
        """Run Qt's event loop (the GUI thread idle in it, as in napari) until ``done()``;
        checked on each runner signal and every 20 ms."""
        if args.poll:
            end = time.perf_counter() + timeout
            while not done() and time.perf_counter() < end:
                QApplication.processEvents()
                time.sleep(0.001)
            return
        loop = QEventLoop()

        def check(*_):
            if done() or time.perf_counter() > end:
                loop.quit()

        end = time.perf_counter() + timeout
        timer = QTimer(interval=20)
        timer.timeout.connect(check)
        signals = [widget.runner.finished]
        if getattr(widget, "refinement", None) is not None:
            signals.append(widget.refinement.runner.finished)
        for signal in signals:
            signal.connect(check)
        timer.start()
        if not done():
            loop.exec()
        timer.stop()
        for signal in signals:
            signal.disconnect(check)

    warm = getattr(widget, "warm_up_worker", None)
    events(0.3)
    view.camera(viewer).zoom = args.zoom
    events(0.3)
    while warm is not None and warm.is_running:
        events(0.05)
    shown = view.visible_region(viewer, layer, "YX")
    bounds = [
        (s.start or 0, s.stop or n) if isinstance(s, slice) else (0, n)
        for s, n in zip(shown, image.shape, strict=True)
    ]
    fov_px = int(np.prod([b - a for a, b in bounds]))
    base = strokes(reference, 2 + painted // 150, 5, 30, bounds, seed=1)
    n_warm = 2 * len(modes)
    plan = strokes(reference, args.strokes + n_warm, 5, (20, 40), bounds, seed=2, first_two=False)
    ann = widget.new_annotations()
    for (rr, cc), label in base:
        ann.data[rr, cc] = label
    ann.refresh()
    painted_px = int(np.count_nonzero(ann.data))

    started: list[float] = []  # when the stroke's job started (the runner's start)
    start_job = widget.runner.start

    def timed_start(*a, **k):
        started.append(time.perf_counter())
        return start_job(*a, **k)

    widget.runner.start = timed_start

    def refining():
        ref = getattr(widget, "refinement", None)
        return ref is not None and (ref.active or ref.runner.orphans)

    def paint_and_wait(stroke, kind):
        (rr, cc), label = stroke
        if progressive:
            widget.live_draft_trees = args.draft_trees if kind == "draft" else 0
        before, refined = widget.last_outcome, getattr(widget, "last_refined", None)
        spent.clear()
        started.clear()
        t0 = time.perf_counter()
        ann.data_setitem((rr, cc), label)  # one brush stroke: one paint event
        wait_until(lambda: widget.last_outcome is not before and not widget.runner.busy)
        t1 = time.perf_counter()
        outcome = widget.last_outcome
        parts = {k: round(v, 3) for k, v in spent.items()}
        t2 = t1
        if kind == "draft" and outcome.status == "done" and outcome.value.refine is not None:
            wait_until(lambda: getattr(widget, "last_refined", None) is not refined, timeout=10)
            t2 = time.perf_counter()
        wait_until(lambda: not refining())
        events(args.pause)  # the user pauses: redraws and idle work end before the next stroke
        return {
            "mode": kind,
            "total_s": t1 - t0,
            "job_s": t1 - (started[0] if started else t0),
            "full_result_s": t2 - t0,
            "status": outcome.status,
            "job": outcome.job,
            "region": str(outcome.value.region) if outcome.status == "done" else "",
            "scribbled": int(np.count_nonzero(ann.data)),
            "parts_s": parts,  # until the first result: seconds in each timed call
        }

    widget.live_check.setChecked(True)
    while widget.last_outcome is None or widget.runner.busy:
        events(0.01)
    warmups = [paint_and_wait(s, modes[i % len(modes)]) for i, s in enumerate(plan[:n_warm])]
    timings = [paint_and_wait(s, modes[i % len(modes)]) for i, s in enumerate(plan[n_warm:])]
    bad = [t for t in [*warmups, *timings] if t["status"] != "done" or t["job"] != "Live"]
    assert not bad, bad
    scribbles = np.array(ann.data, copy=True)
    seg = np.asarray(viewer.layers["segmentation"].data)
    inside = tuple(slice(a, b) for a, b in bounds)
    agree = float(np.mean(seg[inside] == reference[inside]))
    viewer.close()

    # one live update's parts with the final scribbles (no GUI; features cached)
    model = widget.model

    def seconds(fn, repeat=3):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    parts = {}
    full_labels = None
    for trees in sorted({args.trees, *([args.draft_trees] if progressive else [])}):
        m = convpaint.ConvpaintModel("ilastik", n_estimators=trees)
        m.feature_cache = model.feature_cache
        parts[f"fit_{trees}_trees_s"] = seconds(lambda m=m: m.train(image, scribbles, "YX"))
        m.segment(image, "YX", region=inside)
        parts[f"segment_view_{trees}_trees_s"] = seconds(
            lambda m=m: m.segment(image, "YX", region=inside)
        )
        labels = m.segment(image, "YX", region=inside)
        if trees == args.trees:
            full_labels = labels
        else:
            parts["draft_agrees_with_full"] = labels
    if isinstance(parts.get("draft_agrees_with_full"), np.ndarray):
        parts["draft_agrees_with_full"] = round(
            float(np.mean(parts["draft_agrees_with_full"] == full_labels)), 4
        )
    out = {
        "image": list(image.shape),
        "mpix": round(image.size / 1e6, 2),
        "painted_before": painted_px,
        "zoom": args.zoom,
        "fov": [list(b) for b in bounds],
        "fov_mpix": round(fov_px / 1e6, 2),
        "code": "progressive" if progressive else "before",
        "agreement_in_view": round(agree, 3),
        "parts": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in parts.items()},
        "modes": {},
        "strokes": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in t.items()}
                    for t in timings],
    }  # fmt: skip
    for kind in modes:
        rows = [t for t in timings if t["mode"] == kind]
        total, job = [t["total_s"] for t in rows], [t["job_s"] for t in rows]
        full = [t["full_result_s"] for t in rows]
        out["modes"][kind] = {
            "strokes": len(rows),
            "median_total_s": round(statistics.median(total), 3),
            "worst_total_s": round(max(total), 3),
            "median_job_s": round(statistics.median(job), 3),
            "worst_job_s": round(max(job), 3),
            "median_full_result_s": round(statistics.median(full), 3),
            "scribbled": [rows[0]["scribbled"], rows[-1]["scribbled"]],
        }
    return out


def markdown(results: list[dict]) -> str:
    lines = [
        "| code | image | painted before | live fits | strokes | median per stroke s | worst s "
        "| median job s | median full result s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    label = {"full": "the full forest", "draft": "a draft, then the full forest"}
    for r in results:
        for kind, m in r["modes"].items():
            what = label[kind] if r["code"] != "before" else "the full forest (before)"
            lines.append(
                f"| {r['code']} | {r['image'][0]} x {r['image'][1]} ({r['mpix']} MPix) "
                f"| {r['painted_before']} px | {what} | {m['strokes']} "
                f"| {m['median_total_s']:.2f} | {m['worst_total_s']:.2f} "
                f"| {m['median_job_s']:.2f} | {m['median_full_result_s']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=10, help="measured strokes per image")
    parser.add_argument(
        "--scale", type=float, action="append", help="upscaling of coins (3: ~1 MPix), repeatable"
    )
    parser.add_argument(
        "--painted", type=int, action="append", help="pixels scribbled before (default 2000)"
    )
    parser.add_argument("--zoom", type=float, default=1.0, help="camera zoom (1: 1:1)")
    parser.add_argument(
        "--modes", default="draft,full", help="comma list of draft (progressive), full"
    )
    parser.add_argument("--draft-trees", type=int, default=16, help="trees of the live draft")
    parser.add_argument("--trees", type=int, default=100, help="random forest size (form 'Trees')")
    parser.add_argument("--pause", type=float, default=0.5, help="s between strokes (at rest)")
    parser.add_argument(
        "--poll", action="store_true",
        help="wait by calling processEvents every 1-2 ms (runs before 2026-12-03) instead of "
        "idling in Qt's event loop as napari does",
    )  # fmt: skip
    parser.add_argument("--json", help="write the timings here")
    parser.add_argument("--markdown", help="write the table here")
    args = parser.parse_args()
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or set(args.modes) - {"draft", "full"}:
        parser.error("--modes: a comma list of draft, full")
    _display()
    load_start = os.getloadavg()
    results = [measure(s, p, args) for s in (args.scale or [3.0]) for p in (args.painted or [2000])]
    load = os.getloadavg()
    doc = {
        "load_average_1_5_15_start": [round(x, 2) for x in load_start],
        "load_average_1_5_15": [round(x, 2) for x in load],
        "results": results,
    }
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
