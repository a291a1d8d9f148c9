"""The ilastik filter bank per backend (OpenCV, fastfilters2, scipy): speed, agreement, mIoU.

One interleaved run (every repeat visits every backend in turn; medians reported):

* seconds per ``--size``² plane, gray and RGB, filtered in 512² tiles (halo = the
  extractor's padding) on 1 and 2 tile workers (``convpaint.parallel.ordered_map``, as the
  core does); for OpenCV also with ``cv2.setNumThreads(1)`` and ``(0)``;
* ``ConvpaintModel("ilastik", backend=...)`` segment MPix/s at ``--size``², gray and RGB
  (100 trees, default workers);
* max |backend - scipy| per filter family on a DSB image (absolute, and relative to the
  family's largest |value|);
* mIoU on ``--images`` DSB 2018 images (1 % scribbles, seed 0) per backend.

    python benchmarks/filter_backends.py --size 2048 --repeats 2 --doc

The table goes to stdout and, with ``--doc``, between the markers of docs/filters.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "dsb2018_stage1_train"
DOC = ROOT / "docs" / "filters.md"
BEGIN, END = "<!-- filter-backends table -->", "<!-- end filter-backends table -->"
TILE = 512


def backends_here(wanted: list[str]) -> list[str]:
    from convpaint_ilastik import fast, opencv

    ok = {"opencv": opencv.available(), "fastfilters": fast.available(), "scipy": True}
    return [b for b in wanted if ok[b]]


def test_image(size: int, rgb: bool, seed: int = 0) -> np.ndarray:
    """Structured float32 noise in [0, 1]: (size, size) or (size, size, 3)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if rgb else (size, size)
    x = rng.standard_normal(shape).astype(np.float32)
    sig = (3.0, 3.0, 0) if rgb else 3.0
    x = x + 6 * ndimage.gaussian_filter(x, sig)
    return ((x - x.min()) / (x.max() - x.min())).astype(np.float32)


def time_plane(backend: str, image: np.ndarray, workers: int) -> tuple[float, float]:
    """(wall, CPU) seconds to filter ``image`` (Y, X[, C]) in TILE² tiles on ``workers``
    threads; CPU / wall is the number of cores kept busy."""
    from convpaint.parallel import ordered_map
    from convpaint_ilastik import IlastikFilters

    ex = IlastikFilters(backend=backend)
    h = ex.padding
    chw = image[None] if image.ndim == 2 else np.moveaxis(image, -1, 0)
    padded = np.pad(chw, ((0, 0), (h, h), (h, h)), mode="reflect")
    n = image.shape[0]
    boxes = [(y, x) for y in range(0, n, TILE) for x in range(0, n, TILE)]

    def one(box: tuple[int, int]) -> tuple[int, ...]:
        y, x = box
        tile = padded[:, y : y + TILE + 2 * h, x : x + TILE + 2 * h]
        return ex.extract_interior(tile, (h, h)).shape

    t, c = time.perf_counter(), time.process_time()
    for _ in ordered_map(one, boxes, workers):
        pass
    return time.perf_counter() - t, time.process_time() - c


def segment_model(backend: str, image: np.ndarray):
    import convpaint

    n = image.shape[0]
    ann = np.zeros((n, n), np.uint8)
    ann[n // 16, n // 16 : n // 5] = 1
    ann[n // 8 : n // 8 + 8, n // 8 : n // 5] = 2
    ann[n // 5, n // 16 : n // 8] = 3
    small = (slice(0, n // 4),) * 2  # train on a crop: the timing is segment's
    axes = "YXC" if image.ndim == 3 else "YX"
    model = convpaint.ConvpaintModel("ilastik", backend=backend, progress=False)
    model.train(np.ascontiguousarray(image[small]), ann[small], axes=axes)
    return model, axes


def time_segment(model, image: np.ndarray, axes: str) -> float:
    t = time.perf_counter()
    model.segment(image, axes=axes)
    return time.perf_counter() - t


def family_diffs(backends: list[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """{backend: {family: (max abs diff to scipy, relative to max |scipy|)}} on a DSB image."""
    from convpaint_ilastik import IlastikFilters
    from convpaint_ilastik.filters import FILTERS

    if DATA.is_dir():
        from convpaint.evaluation.datasets import read_array

        img = read_array(DATA / "images" / "001.png").astype(np.float32)
        img = img[..., 0] if img.ndim == 3 else img
        img = (img - img.min()) / max(float(np.ptp(img)), 1e-6)
    else:
        img = test_image(256, rgb=False)
    ref_ex = IlastikFilters(backend="scipy")
    ref = ref_ex.extract(img[None])
    names = np.array([n.split("_s")[0] for n in ref_ex.feature_names])
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for b in backends:
        if b == "scipy":
            continue
        got = IlastikFilters(backend=b).extract(img[None])
        out[b] = {}
        for f in FILTERS:
            sel = names == f
            d = float(np.abs(got[sel] - ref[sel]).max())
            out[b][f] = (d, d / max(float(np.abs(ref[sel]).max()), 1e-12))
    return out


def miou(backends: list[str], n_images: int) -> dict[str, list[float]] | None:
    if not DATA.is_dir() or n_images <= 0:
        return None
    import convpaint
    from convpaint.evaluation import mean_iou
    from convpaint.evaluation.datasets import open_dataset
    from convpaint.scribbles import generate_scribbles, labels_to_classes

    n_gray = max(1, n_images - n_images // 3)
    spec = f"fluorescence_gray:{n_gray},HE_histology_rgb:{n_images - n_gray}"
    ds = open_dataset(DATA, modalities=spec, masks="instance")
    scores: dict[str, list[float]] = {b: [] for b in backends}
    for sample in ds:
        image, mask, axes = sample.load("instance")
        labels = generate_scribbles(mask, coverage=0.01, seed=0)
        for b in backends:
            model = convpaint.ConvpaintModel("ilastik", backend=b, seed=0, progress=False)
            model.train(image, labels, axes=axes)
            pred = labels_to_classes(model.segment(image, axes=axes))
            scores[b].append(mean_iou(mask, pred))
    return scores


def markdown(res: dict, args: argparse.Namespace, backends: list[str]) -> str:
    med = {k: float(np.median(v)) for k, v in res["times"].items()}
    lines = [
        f"Command: `python benchmarks/filter_backends.py {' '.join(sys.argv[1:])}`; "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"load average {res['load']:.1f} at start, {os.getloadavg()[0]:.1f} at the end; medians "
        f"of {args.repeats} interleaved repeats (scipy: {min(args.repeats, args.scipy_repeats)});"
        " CPU s = process CPU time (all threads).",
        "",
        f"Seconds per {args.size}² plane (56 features per channel, {TILE}² tiles):",
        "",
        "| backend | gray, 1 worker | gray, 2 workers | RGB, 1 worker | RGB, 2 workers |"
        " CPU s gray, 1 worker | cores busy, gray 2 workers |"
        " segment gray MPix/s | segment RGB MPix/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    mpix = args.size**2 / 1e6
    for b in backends:
        cells = [
            f"{med[b, c, w]:.2f}" if (b, c, w) in med else "–"
            for c in ("gray", "rgb")
            for w in (1, 2)
        ]
        segs = [
            f"{mpix / med[b, 'seg', c]:.2f}" if (b, "seg", c) in med else "–"
            for c in ("gray", "rgb")
        ]
        cpu = [
            f"{med[b, 'gray', 1, 'cpu']:.2f}",
            f"{med[b, 'gray', 2, 'cpu'] / med[b, 'gray', 2]:.2f}",
        ]
        lines.append(f"| {b} | " + " | ".join(cells + cpu + segs) + " |")
    if "opencv" in backends:
        lines += ["", "OpenCV's own threads (gray, 2 tile workers):", ""]
        lines += ["| cv2.setNumThreads | s per plane |", "|---|---|"]
        for n in ("default", 1, 0):
            key = ("opencv-threads", n)
            if key in med:
                lines.append(f"| {n} | {med[key]:.2f} |")
    ref = "scipy" if "scipy" in backends else None
    if ref:
        lines += ["", "Speed-up over scipy (same run):", ""]
        lines += [
            "| backend | gray 1 w | gray 2 w | RGB 1 w | RGB 2 w | segment gray | segment RGB |"
        ]
        lines += ["|---|---|---|---|---|---|---|"]
        keys = [("gray", 1), ("gray", 2), ("rgb", 1), ("rgb", 2), ("seg", "gray"), ("seg", "rgb")]
        for b in backends:
            row = []
            for a, c in keys:
                k, r = (b, a, c), (ref, a, c)
                row.append(f"{med[r] / med[k]:.1f}×" if k in med and r in med else "–")
            lines.append(f"| {b} | " + " | ".join(row) + " |")
    if res["diffs"]:
        lines += [
            "",
            "Max |backend − scipy| per filter family (DSB image 001, all 7 scales;"
            " absolute / relative to the family's max |value|):",
            "",
        ]
        bs = list(res["diffs"])
        lines += ["| family | " + " | ".join(bs) + " |", "|---" * (len(bs) + 1) + "|"]
        for f in next(iter(res["diffs"].values())):
            cells = [f"{res['diffs'][b][f][0]:.1e} / {res['diffs'][b][f][1]:.1e}" for b in bs]
            lines.append(f"| {f} | " + " | ".join(cells) + " |")
    if res["miou"]:
        sc = res["miou"]
        n = len(next(iter(sc.values())))
        lines += ["", f"mIoU on {n} DSB 2018 images (1 % scribbles, seed 0, 100 trees):", ""]
        lines += ["| backend | mean mIoU | max |Δ| to scipy per image |", "|---|---|---|"]
        for b, v in sc.items():
            delta = (
                f"{np.abs(np.array(v) - np.array(sc['scipy'])).max():.4f}" if "scipy" in sc else "–"
            )
            lines.append(f"| {b} | {np.mean(v):.4f} | {delta} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--scipy-repeats", type=int, default=99, help="scipy is slow: fewer repeats")
    ap.add_argument("--backends", default="opencv,fastfilters,scipy")
    ap.add_argument("--images", type=int, default=6, help="DSB images for the mIoU check")
    ap.add_argument("--no-segment", action="store_true")
    ap.add_argument("--doc", action="store_true", help=f"write the tables into {DOC.name}")
    args = ap.parse_args()
    import cv2  # noqa: F401  (the OpenCV thread setting is measured below)

    backends = backends_here(args.backends.split(","))
    res: dict = {"times": {}, "load": os.getloadavg()[0]}
    images = {"gray": test_image(args.size, False), "rgb": test_image(args.size, True)}
    models = {}
    if not args.no_segment:
        for b in backends:
            for c, img in images.items():
                models[b, c] = segment_model(b, img)
    default_threads = cv2.getNumThreads()
    for rep in range(args.repeats):  # every measurement visits the backends in turn
        order = backends if rep % 2 == 0 else backends[::-1]
        for c, img in images.items():
            for w in (1, 2):
                for b in order:
                    if b == "scipy" and rep >= args.scipy_repeats:
                        continue
                    wall, cpu = time_plane(b, img, w)
                    res["times"].setdefault((b, c, w), []).append(wall)
                    res["times"].setdefault((b, c, w, "cpu"), []).append(cpu)
                    print(f"rep {rep} {b:11s} {c:4s} workers {w}: {wall:.2f} s", flush=True)
            for b in [] if args.no_segment else order:
                if b == "scipy" and rep >= args.scipy_repeats:
                    continue
                model, axes = models[b, c]
                t = time_segment(model, img, axes)
                res["times"].setdefault((b, "seg", c), []).append(t)
                print(f"rep {rep} {b:11s} {c:4s} segment: {t:.2f} s", flush=True)
        if "opencv" in backends:
            for n in ("default", 1, 0):
                cv2.setNumThreads(default_threads if n == "default" else n)
                wall, _ = time_plane("opencv", images["gray"], 2)
                res["times"].setdefault(("opencv-threads", n), []).append(wall)
            cv2.setNumThreads(default_threads)
    res["diffs"] = family_diffs(backends)
    res["miou"] = miou(backends, args.images)
    text = markdown(res, args, backends)
    print(text)
    if args.doc:
        doc = DOC.read_text()
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        from convpaint.io import atomic_write

        with atomic_write(DOC) as tmp:
            Path(tmp).write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


if __name__ == "__main__":
    main()
