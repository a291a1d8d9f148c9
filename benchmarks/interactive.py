"""The interactive loop: a simulated user adds strokes one at a time.

    python benchmarks/interactive.py --json docs/benchmarks/interactive.json \
        --markdown docs/benchmarks/interactive.md

Two scenes, each with a fresh model per extractor (``ilastik``, ``vgg16``):

* ``2-D``: a 1024² image (DSB 2018 fluorescence image 532 mirror-tiled; ``--synthetic``:
  generated blobs); the visible plane is the whole image, so every step segments it all.
* ``stack``: a 20 x 1024² Z stack of synthetic 3-D nuclei; the user paints on plane 10,
  then scrolls to planes 5 and 15; every step segments only the visible plane
  (``segment(stack, region=(z,))``).

The user first draws one foreground and one background stroke (the *initial* step, cold:
nothing cached), then adds ``--strokes`` strokes one at a time, alternating classes.
After each stroke the model retrains (``train(image, annotations)`` on all strokes so far:
the feature cache makes this featurise only newly touched tiles) and re-segments the visible
plane.  Strokes are smooth random walks with a 3-px brush inside the class region (short ones
inside nuclei, longer ones in the background).  The table gives per-step latency (median and
worst over the added strokes), split into retrain and segment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = next(  # ../shared of the project (or of a folder above a git worktree)
    (d / "shared" for d in ROOT.parents if (d / "shared" / "data").is_dir()), ROOT.parent / "shared"
)
DSB = SHARED / "data" / "dsb2018_stage1_train"


# -- scenes -----------------------------------------------------------------------------------
def blobs_2d(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy gray nuclei-like ellipses on a dark background; (image uint8, mask 0/1)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(size * size // 3000):
        cy, cx = rng.integers(0, size, 2)
        ry, rx = rng.uniform(5, 14, 2)
        y0, y1, x0, x1 = max(cy - 15, 0), min(cy + 15, size), max(cx - 15, 0), min(cx + 15, size)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        mask[y0:y1, x0:x1][((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1] = 1
    smooth = ndimage.gaussian_filter(mask.astype(np.float32), 1.5)
    image = 30 + 170 * smooth + rng.normal(0, 20, mask.shape)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def dsb_2d(size: int, index: str = "532") -> tuple[np.ndarray, np.ndarray, str]:
    """A DSB fluorescence image mirror-tiled to size x size, with its foreground mask."""
    import tifffile
    from skimage.io import imread

    image = imread(DSB / "images" / f"{index}.png")
    mask = (tifffile.imread(DSB / "masks" / f"{index}.tif") > 0).astype(np.uint8)
    pad = [(0, max(0, size - s)) for s in image.shape[:2]]
    image = np.pad(image, pad, mode="symmetric")[:size, :size]
    mask = np.pad(mask, pad, mode="symmetric")[:size, :size]
    return np.ascontiguousarray(image), np.ascontiguousarray(mask), f"DSB {index} mirror-tiled"


def blobs_3d(planes: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A (planes, size, size) stack of noisy ellipsoidal nuclei; (image uint8, mask 0/1)."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    mask = np.zeros((planes, size, size), np.uint8)
    for _ in range(planes * size * size // 40000):
        cz, cy, cx = rng.integers(0, planes), *rng.integers(0, size, 2)
        rz, ry, rx = rng.uniform(2, 4), *rng.uniform(6, 14, 2)
        sl = tuple(
            slice(max(int(c - r) - 1, 0), min(int(c + r) + 2, n))
            for c, r, n in ((cz, rz, planes), (cy, ry, size), (cx, rx, size))
        )
        zz, yy, xx = np.mgrid[sl]
        inside = ((zz - cz) / rz) ** 2 + ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        mask[sl][inside] = 1
    smooth = ndimage.gaussian_filter(mask.astype(np.float32), (0.7, 1.5, 1.5))
    image = 30 + 170 * smooth + rng.normal(0, 20, mask.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), mask


# -- strokes ----------------------------------------------------------------------------------
def stroke(
    mask: np.ndarray,
    cls: int,
    rng: np.random.Generator,
    length: int,
    width: int = 3,
    tries: int = 30,
) -> np.ndarray:
    """Pixels (ys, xs) of one smooth brush stroke inside ``mask == cls`` (the longest of
    ``tries`` random walks of up to ``length`` steps)."""
    from scipy import ndimage

    region = mask == cls
    inner = ndimage.binary_erosion(region, iterations=width)  # the brush stays inside
    if not inner.any():
        inner = region
    ys, xs = np.nonzero(inner)
    best: list[tuple[int, int]] = []
    for _ in range(tries):
        i = rng.integers(len(ys))
        y, x, angle = float(ys[i]), float(xs[i]), rng.uniform(0, 2 * np.pi)
        path = [(int(ys[i]), int(xs[i]))]
        for _ in range(length):
            angle += rng.normal(0, 0.2)
            y, x = y + np.sin(angle), x + np.cos(angle)
            p = (int(round(y)), int(round(x)))
            if not (0 <= p[0] < mask.shape[0] and 0 <= p[1] < mask.shape[1]) or not inner[p]:
                break
            path.append(p)
        if len(path) > len(best):
            best = path
        if len(best) >= length:
            break
    brush = np.zeros(mask.shape, bool)
    py, px = np.array(best).T
    brush[py, px] = True
    brush = ndimage.binary_dilation(brush, np.ones((width, width), bool)) & region
    return np.nonzero(brush)


def plan(mask: np.ndarray, n: int, planes: list[int] | None, seed: int):
    """Initial strokes (one per class) and ``n`` more, alternating classes:
    a list of (z or None, label, (ys, xs)) in drawing order."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n + 2):
        cls = 1 - i % 2  # foreground, background, foreground, ...
        z = None if planes is None else planes[min(i * len(planes) // (n + 2), len(planes) - 1)]
        plane = mask if z is None else mask[z]
        out.append((z, cls + 1, stroke(plane, cls, rng, 60 if cls else 150)))
    return out


# -- the loop ---------------------------------------------------------------------------------
def session(name: str, image: np.ndarray, axes: str, strokes, options: dict) -> dict:
    import convpaint

    model = convpaint.ConvpaintModel(name, progress=False, **options)
    ann = np.zeros(image.shape if axes != "YXC" else image.shape[:2], np.uint8)
    steps = []
    for i, (z, label, (ys, xs)) in enumerate(strokes):
        if z is None:
            ann[ys, xs] = label
        else:
            ann[z, ys, xs] = label
        if i == 0:
            continue  # one class only: the user draws the second stroke before training
        hits = model.feature_cache.hits
        t0 = time.perf_counter()
        model.train(image, ann, axes=axes)
        t1 = time.perf_counter()
        labels = (
            model.segment(image, axes=axes)
            if z is None
            else model.segment(image, axes=axes, region=(z,))
        )
        t2 = time.perf_counter()
        steps.append(
            {
                "train_s": t1 - t0,
                "segment_s": t2 - t1,
                "total_s": t2 - t0,
                "plane": z,
                "stroke_px": int(len(ys)),
                "cache_hits": model.feature_cache.hits - hits,
                "labels_shape": list(labels.shape),
            }
        )
    return {
        "initial": steps[0],
        "steps": steps[1:],
        "cache_mib": model.feature_cache.nbytes / 2**20,
    }


def summary(name: str, scene: str, shape, res: dict) -> dict:
    steps = res["steps"]

    def stat(key, fn):
        return fn(s[key] for s in steps)

    return {
        "extractor": name,
        "scene": scene,
        "shape": list(shape),
        "n_steps": len(steps),
        "initial_train_s": res["initial"]["train_s"],
        "initial_segment_s": res["initial"]["segment_s"],
        **{f"{k}_median": stat(k, statistics.median) for k in ("total_s", "train_s", "segment_s")},
        **{f"{k}_max": stat(k, max) for k in ("total_s", "train_s", "segment_s")},
        "cache_mib": res["cache_mib"],
        "steps": steps,
    }


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        f"Command: `{meta['command']}`",
        "",
        f"Machine: {meta['machine']}; {rows[0]['n_steps']} added strokes per row; times in s; "
        "step = retrain on all strokes + segment the visible plane.",
        "",
        "| scene | extractor | initial step (train + segment) | step median | step worst "
        "| retrain median / worst | segment median / worst |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scene']} | {r['label']} | {r['initial_train_s']:.2f} + {r['initial_segment_s']:.2f} "
            f"| {r['total_s_median']:.2f} | {r['total_s_max']:.2f} "
            f"| {r['train_s_median']:.2f} / {r['train_s_max']:.2f} "
            f"| {r['segment_s_median']:.2f} / {r['segment_s_max']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--extractor", "-e", action="append", help="extractors (default: ilastik, vgg16)"
    )
    parser.add_argument("--scene", nargs="+", choices=("2d", "stack"), default=["2d", "stack"])
    parser.add_argument("--size", type=int, default=1024, help="plane edge in pixels")
    parser.add_argument("--planes", type=int, default=20, help="planes of the stack")
    parser.add_argument("--strokes", type=int, default=10, help="strokes added one at a time")
    parser.add_argument("--synthetic", action="store_true", help="2-D scene: generated image")
    parser.add_argument(
        "--vgg-weights",
        default="random",
        help='vgg16 weights: "random" (default) or a checkpoint path',
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write rows (with every step) here")
    parser.add_argument("--markdown", help="write the markdown table here")
    args = parser.parse_args()
    names = args.extractor or ["ilastik", "vgg16"]
    warnings.filterwarnings("ignore", message=".*weights='random'.*")

    scenes = []
    if "2d" in args.scene:
        if args.synthetic or not (DSB / "images" / "532.png").is_file():
            image, mask = blobs_2d(args.size, args.seed)
            desc = "synthetic"
        else:
            image, mask, desc = dsb_2d(args.size)
        strokes = plan(mask, args.strokes, None, args.seed)
        scenes.append((f"2-D {args.size}² ({desc})", image, "YX", strokes))
    if "stack" in args.scene:
        image, mask = blobs_3d(args.planes, args.size, args.seed)
        mid = args.planes // 2
        visible = [mid, max(mid - 5, 0), min(mid + 5, args.planes - 1)]
        strokes = plan(mask, args.strokes, visible, args.seed)
        scene = f"stack {args.planes}×{args.size}² (planes {', '.join(map(str, visible))})"
        scenes.append((scene, image, "ZYX", strokes))

    rows = []
    for scene, image, axes, strokes in scenes:
        for name in names:
            options = {"weights": args.vgg_weights} if name == "vgg16" else {}
            res = session(name, image, axes, strokes, options)
            row = summary(name, scene, image.shape, res)
            row["label"] = name + (
                " (random weights)" if options.get("weights") == "random" else ""
            )
            rows.append(row)
            print(
                f"{scene:<40} {name:>8}: initial {row['initial_train_s']:.2f} + "
                f"{row['initial_segment_s']:.2f} s; step median {row['total_s_median']:.2f} s "
                f"(retrain {row['train_s_median']:.2f} + segment {row['segment_s_median']:.2f}), "
                f"worst {row['total_s_max']:.2f} s",
                flush=True,
            )
    meta = {
        "command": "python benchmarks/interactive.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    text = markdown(rows, meta)
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
