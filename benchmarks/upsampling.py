"""What feature upsampling gives: mIoU and time per MPix of bilinear vs guided vs jafar.

    python benchmarks/upsampling.py [miou] [timing] [--fluo 16] [--he 16] [--scenes 8]
        [--coverage 0.5,2.5] [--dinov3] [--work docs/results/upsampling]
        [--json docs/benchmarks/upsampling.json]

``miou``: one interleaved ``convpaint.evaluation.evaluate`` run per table (every image,
coverage and extractor row in turn, the same scribbles for every row) on

* DSB 2018 fluorescence (``fluorescence_gray``) and H&E (``HE_histology_rgb``) images of
  ``../shared/data/dsb2018_stage1_train`` (foreground / background), and
* CamVid-like synthetic scenes written by :func:`scene` (360 x 480 px, 5-11 classes of
  piecewise regions with colours shared between classes, per-class stripe textures and
  sharp boundaries) into ``WORK/scenes-data`` (semantic masks),

for ``dinov2`` with random weights and bilinear upsampling (``upsampler=None``), ``guided``
and ``jafar`` (random JAFAR weights), plus ``vgg16`` (random filters) and ``ilastik`` as the
local-structure references (``--dinov3``: ``dinov3`` with random weights, bilinear and
guided, too).  A model is kept per row label, so an image's features are computed once
and re-used for its coverages (a fresh forest per training: the same result as a new model).

``timing``: seconds per MPix, medians of interleaved repeats, 2 torch threads: the
upsampling step alone on 384 random features (a 518 x 518 px block, 37 x 37 patches of 14
px), and ``dinov2`` (random weights) train + segment of a 518 x 518 image per upsampler
(feature cache cleared each time).  The load average before and after is recorded.

No pretrained weights are available here: every number uses random backbone weights and
random JAFAR weights (see docs/upsampling.md for what that does and does not show).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DSB = ROOT.parent / "shared" / "data" / "dsb2018_stage1_train"
SCENE_SHAPE = (360, 480)


# -- CamVid-like synthetic scenes ------------------------------------------------------------
def scene(seed: int, shape: tuple[int, int] = SCENE_SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """A float32 RGB image in [0, 1] and its semantic mask (classes 0..K-1, 5 <= K <= 11).

    Regions: a Voronoi partition of ``3 K`` seeds (every class owns at least one cell) with
    ``2 K`` axis-aligned boxes of random classes painted over it (sharp, straight edges,
    like cars and buildings).  Each class has a colour from a palette of 4 (so classes share
    colours and differ in texture), a stripe texture of its own orientation, frequency and
    contrast, and Gaussian noise.
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    k = int(rng.integers(5, 12))
    n_cells = 3 * k
    pts = rng.uniform(0, 1, (n_cells, 2)) * (h, w)
    cell_class = np.concatenate([np.arange(k), rng.integers(0, k, n_cells - k)])
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    d = (yy[None] - pts[:, 0, None, None]) ** 2 + (xx[None] - pts[:, 1, None, None]) ** 2
    mask = cell_class[np.argmin(d, axis=0)]
    for _ in range(2 * k):
        y0, x0 = int(rng.integers(0, h - 20)), int(rng.integers(0, w - 20))
        bh, bw = int(rng.integers(15, h // 3)), int(rng.integers(15, w // 3))
        mask[y0 : y0 + bh, x0 : x0 + bw] = int(rng.integers(0, k))
    palette = rng.uniform(0.15, 0.85, (4, 3))
    image = np.empty((h, w, 3), np.float32)
    for c in range(k):
        sel = mask == c
        colour = palette[c % 4] + rng.normal(0, 0.03, 3)
        angle, period = rng.uniform(0, np.pi), rng.uniform(3, 16)
        contrast = rng.uniform(0.0, 0.2) if c % 2 else rng.uniform(0.1, 0.25)
        phase = (np.cos(angle) * yy[sel] + np.sin(angle) * xx[sel]) * 2 * np.pi / period
        texture = contrast * np.sin(phase)
        noise = rng.normal(0, rng.uniform(0.01, 0.06), (int(sel.sum()), 3))
        image[sel] = colour[None] + texture[:, None] + noise
    return np.clip(image, 0, 1).astype(np.float32), mask.astype(np.uint8)


def write_scenes(folder: Path, n: int) -> Path:
    """``n`` scenes as an evaluation dataset (images/*.npy, masks/*.npy, index.json)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(exist_ok=True)
    index = []
    for i in range(n):
        image, mask = scene(i)
        np.save(folder / "images" / f"scene{i:02d}.npy", image)
        np.save(folder / "masks" / f"scene{i:02d}.npy", mask)
        index.append({"index": f"scene{i:02d}", "modality": "synthetic_scene",
                      "n_classes": int(mask.max()) + 1})  # fmt: skip
    (folder / "index.json").write_text(json.dumps(index, indent=1))
    return folder


# -- mIoU tables -------------------------------------------------------------------------------
def run_specs(dinov3: bool) -> list[str]:
    specs = [
        "dinov2:weights=random",
        "dinov2:weights=random,upsampler=guided",
        "dinov2:weights=random,upsampler=jafar,upsampler.weights=random",
        "vgg16:weights=random",
        "ilastik",
    ]
    if dinov3:
        specs += ["dinov3:weights=random", "dinov3:weights=random,upsampler=guided"]
    return specs


def reusing_factory(runs, cache_bytes: int = 512 * 2**20):
    """``(run, seed) -> model``: one ConvpaintModel per row label, kept, so that the feature
    cache carries an image's features from one coverage to the next."""
    from convpaint import ConvpaintModel, get_extractor
    from convpaint.upsampler_registry import get_upsampler

    models: dict = {}

    def factory(run, seed):
        key = (run.label, seed)
        if key not in models:
            up = (
                get_upsampler(run.upsampler, **dict(run.upsampler_options))
                if run.upsampler
                else None
            )
            ex = get_extractor(run.name, **run.kwargs)
            models[key] = ConvpaintModel(
                extractor=ex, seed=seed, progress=False, upsampler=up, cache_bytes=cache_bytes
            )
        return models[key]

    return factory


def miou_table(dataset: Path, modality: str | None, out: Path, coverages, specs) -> dict:
    from convpaint.evaluation import evaluate, make_extractor_runs, open_dataset, read_rows

    ds = open_dataset(dataset, modality)
    runs = make_extractor_runs(specs)
    started = time.perf_counter()
    load0 = os.getloadavg()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights
        csv_path = evaluate(ds, runs, coverages, out, model_factory=reusing_factory(runs))
    wall = time.perf_counter() - started
    rows = [r for r in read_rows(csv_path)]
    table: dict = {}
    for r in runs:
        for c in coverages:
            sel = [x for x in rows if x["extractor"] == r.label and float(x["coverage"]) == c]
            vals = [float(x["miou"]) for x in sel if not x["error"]]
            secs = [float(x["train_s"]) + float(x["segment_s"]) for x in sel if not x["error"]]
            table.setdefault(r.label, {})[f"{c:g}"] = {
                "miou_mean": round(float(np.mean(vals)), 4) if vals else None,
                "miou_sd": round(float(np.std(vals)), 4) if vals else None,
                "n": len(vals),
                "errors": len(sel) - len(vals),
                "seconds_mean": round(float(np.mean(secs)), 3) if secs else None,
            }
    return {
        "dataset": str(dataset),
        "modality": modality,
        "images": len(ds),
        "results": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out),
        "wall_s": round(wall, 1),
        "load_average_start": round(load0, 2),
        "load_average_end": round(os.getloadavg()[0], 2),
        "miou": table,
    }


# -- timing ------------------------------------------------------------------------------------
def _interleaved(fns: dict, repeats: int) -> dict[str, float]:
    for fn in fns.values():
        fn()  # warm-up: kernels compiled, networks built
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def timing(repeats: int, edge: int = 518, patch: int = 14) -> dict:
    import torch

    import convpaint
    from convpaint.builtin_upsamplers import GuidedUpsampler
    from convpaint.pyramid import upsample
    from convpaint_dinov2.jafar_upsampler import JafarUpsampler

    torch.set_num_threads(2)
    load0 = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    cells = edge // patch
    f = rng.normal(size=(384, cells, cells)).astype(np.float32)
    gray = rng.normal(size=(1, cells * patch, cells * patch)).astype(np.float32)
    rgb = rng.normal(size=(3, cells * patch, cells * patch)).astype(np.float32)
    mpix = (cells * patch) ** 2 / 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jafar = JafarUpsampler(weights="random")
        guided, guided_rgb = GuidedUpsampler(), GuidedUpsampler(guide="rgb")
        step = _interleaved(
            {
                "bilinear": lambda: upsample(f, patch),
                "guided (gray guide)": lambda: guided.upsample(f, gray, patch),
                "guided (rgb guide)": lambda: guided_rgb.upsample(f, rgb, patch),
                "jafar (random weights)": lambda: jafar.upsample(f, rgb, patch),
            },
            repeats,
        )
        image = rng.random((edge, edge, 3), dtype=np.float32)
        ann = np.zeros((edge, edge), np.uint8)
        ann[20, 20:-20], ann[-20, 20:-20], ann[20:-20, edge // 2] = 1, 2, 2
        models = {
            "bilinear": convpaint.ConvpaintModel("dinov2", weights="random", progress=False),
            "guided": convpaint.ConvpaintModel(
                "dinov2", weights="random", upsampler="guided", progress=False
            ),
            "jafar (random weights)": convpaint.ConvpaintModel(
                "dinov2",
                weights="random",
                upsampler="jafar",
                upsampler_options={"weights": "random"},
                progress=False,
            ),
        }

        def train(m):
            m.feature_cache.clear()
            m.train(image, ann)

        def segment(m):
            m.feature_cache.clear()
            m.segment(image)

        fns = {}
        for name, m in models.items():
            fns[("train", name)] = lambda m=m: train(m)
            fns[("segment", name)] = lambda m=m: segment(m)
        pipe = _interleaved(fns, repeats)
    img_mpix = edge * edge / 1e6
    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "repeats": repeats,
        "load_average_start": round(load0, 2),
        "load_average_end": round(os.getloadavg()[0], 2),
        "step": {
            "block_px": cells * patch,
            "features": 384,
            "patch": patch,
            "s_per_mpix": {k: round(v / mpix, 3) for k, v in step.items()},
        },
        "dinov2": {
            "image_px": edge,
            "train_s": {k[1]: round(v, 3) for k, v in pipe.items() if k[0] == "train"},
            "segment_s_per_mpix": {
                k[1]: round(v / img_mpix, 3) for k, v in pipe.items() if k[0] == "segment"
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", default=["miou", "timing"], choices=["miou", "timing"])
    parser.add_argument("--fluo", type=int, default=16, help="DSB fluorescence images")
    parser.add_argument("--he", type=int, default=16, help="DSB H&E images")
    parser.add_argument("--scenes", type=int, default=8, help="synthetic scenes")
    parser.add_argument("--coverage", default="0.5,2.5", help="percent, comma-separated")
    parser.add_argument("--dinov3", action="store_true", help="dinov3 rows too")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "docs" / "results" / "upsampling")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "docs" / "benchmarks" / "upsampling.json"
    )
    args = parser.parse_args()
    coverages = [float(c) for c in args.coverage.split(",")]
    result = json.loads(args.json.read_text()) if args.json.is_file() else {}
    result["note"] = "random backbone weights and random JAFAR weights throughout"
    specs = run_specs(args.dinov3)

    def save() -> None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")

    if "miou" in args.what:
        tables = result.setdefault("miou", {})
        jobs = [
            ("dsb_fluorescence", DSB, f"fluorescence_gray:{args.fluo}", args.fluo),
            ("dsb_he", DSB, f"HE_histology_rgb:{args.he}", args.he),
            ("scenes", None, None, args.scenes),
        ]
        for name, dataset, modality, n in jobs:
            if not n:
                continue
            if dataset is None:
                dataset = write_scenes(args.work / "scenes-data", n)
            print(f"== {name}", flush=True)
            tables[name] = miou_table(dataset, modality, args.work / name, coverages, specs)
            save()
    if "timing" in args.what:
        print("== timing", flush=True)
        result["timing"] = timing(args.repeats)
        save()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
