"""Instance quality on DSB 2018: ``convpaint.to_instances`` against napari-convpaint 1.2.0.

    python benchmarks/instances.py --anchor /tmp/anchor --images 20 --he 6 \\
        --json /tmp/instances.json --markdown /tmp/instances.md

For each image (``--images`` fluorescence and ``--he`` H&E images of
``../shared/data/dsb2018_stage1_train``, evenly spaced over the index): scribbles from the
ground-truth foreground (mask > 0, background = label 1, nuclei = label 2) with
:func:`convpaint.scribbles.generate_scribbles`, training and segmentation with this project's
``ilastik`` and ``vgg16``, then the SAME semantic segmentation goes through two instance
steps: (a) :func:`convpaint.to_instances` and (b) napari-convpaint 1.2.0's own instance step,
``napari_convpaint.utils.create_instances_from_semantic`` (what its
``ConvpaintModel.get_instances`` calls after predicting), run in its venv (``--anchor DIR``,
made by ``bash ../shared/anchor/setup_env.sh DIR``) as one subprocess over ``.npy`` files that
both sides read.  Each step runs at its own default ``min_size`` (ours 16, napari-convpaint
100) and at the other's.  The row "ground truth" feeds the true foreground (mask > 0) to both
steps: the instance step alone, without segmentation errors.

VGG16 weights: ImageNet weights cannot be downloaded here; ``vgg16`` loads the random-
initialised (seed 0) checkpoint that ``../shared/anchor/make_fake_vgg_weights.py`` wrote into
the anchor's home (``weights=PATH``), or ``weights="random"`` without the anchor.

Scores, against the DSB instance masks: F1 at IoU 0.5 (one-to-one matching by
``scipy.optimize.linear_sum_assignment`` on the IoU matrix; a match counts when IoU >= 0.5)
and the mean IoU of those matches; means over images, per modality and source.  Times: per
image, the instance step only: the fastest of ``--repeat`` calls (the machine may be loaded),
median over images; the anchor's inside its process, after import.  Without the anchor venv only this project's side is reported (said in the output).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = next(
    (d / "shared" for d in ROOT.parents if (d / "shared" / "data").is_dir()), ROOT.parent / "shared"
)
DSB = SHARED / "data" / "dsb2018_stage1_train"
ANCHOR_DIR = SHARED / "anchor"
CHECKPOINT = "home/.cache/torch/hub/checkpoints/vgg16-397923af.pth"
MODALITIES = {"fluorescence_gray": "fluorescence", "HE_histology_rgb": "H&E", "3-D": "3-D"}
VOLUME = SHARED / "data" / "stardist_bundled"  # img3d.tif / mask3d.tif: synthetic 3-D nuclei
OUR_MIN, ANCHOR_MIN = 16, 100


# -- inputs -------------------------------------------------------------------------------
def pick_images(data: Path, n_fluo: int, n_he: int, offset: float = 0.5) -> list[dict]:
    """``n`` images per modality, evenly spaced over the index, starting ``offset`` steps in."""
    index = json.loads((data / "index.json").read_text())
    out = []
    for modality, n in (("fluorescence_gray", n_fluo), ("HE_histology_rgb", n_he)):
        entries = [e for e in index if e["modality"] == modality]
        if n > len(entries):
            raise SystemExit(f"only {len(entries)} {modality} images, asked for {n}")
        step = len(entries) / max(n, 1)
        out += [entries[int((i + offset) * step)] for i in range(n)]
    return out


def load(data: Path, entry: dict):
    import numpy as np
    import tifffile
    from skimage.io import imread

    image = imread(data / "images" / f"{entry['index']}.png")
    if image.ndim == 3 and image.shape[-1] == 4:
        image = image[..., :3]
    if image.ndim == 3 and entry["modality"] == "fluorescence_gray":
        image = image[..., 0]
    truth = tifffile.imread(data / "masks" / f"{entry['index']}.tif").astype(np.int32)
    return np.ascontiguousarray(image), truth


# -- scores -------------------------------------------------------------------------------
def match(truth, pred, threshold: float = 0.5) -> dict:
    """F1 at IoU ``threshold`` and mean IoU of the matches (one-to-one, Hungarian)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment
    from skimage.segmentation import relabel_sequential

    t, _, _ = relabel_sequential(np.asarray(truth))
    p, _, _ = relabel_sequential(np.asarray(pred))
    nt, np_ = int(t.max()), int(p.max())
    if nt == 0 or np_ == 0:
        return {"f1": float(nt == np_), "miou": float("nan"), "n_true": nt, "n_pred": np_}
    inter = np.zeros((nt + 1, np_ + 1), np.int64)
    np.add.at(inter, (t.ravel(), p.ravel()), 1)
    area_t, area_p = inter.sum(1), inter.sum(0)
    inter = inter[1:, 1:]
    iou = inter / (area_t[1:, None] + area_p[None, 1:] - inter)
    rows, cols = linear_sum_assignment(-iou)
    hits = iou[rows, cols][iou[rows, cols] >= threshold]
    tp = len(hits)
    return {
        "f1": 2 * tp / (nt + np_),
        "miou": float(hits.mean()) if tp else 0.0,
        "n_true": nt,
        "n_pred": np_,
    }


# -- segmentation and our instance step ---------------------------------------------------
def segment_all(cases: list[dict], extractors: list[str], weights: str, seed: int, cov: float):
    """Semantic labels (1 = background, 2 = nuclei) per (image, extractor)."""
    import numpy as np

    import convpaint
    from convpaint.scribbles import generate_scribbles

    models = {}
    for case in cases:
        image, truth = case["image"], case["truth"]
        axes = case.get("axes") or ("YXC" if image.ndim == 3 else "YX")
        fg = (truth > 0).astype(np.uint8)
        scribbles = generate_scribbles(fg, cov, seed=seed)
        case["semantic"] = {"ground truth": fg + 1}
        for name in extractors:
            opts = {"weights": weights} if name == "vgg16" else {}
            model = convpaint.ConvpaintModel(name, seed=seed, progress=False, **opts)
            t0 = time.perf_counter()
            model.train(image, scribbles, axes=axes)
            seg = np.asarray(model.segment(image, axes=axes))
            case.setdefault("segment_s", {})[name] = time.perf_counter() - t0
            case["semantic"][name] = seg.astype(np.uint8)
            case.setdefault("fg_iou", {})[name] = float(
                ((seg == 2) & (fg > 0)).sum() / max(((seg == 2) | (fg > 0)).sum(), 1)
            )
            models[name] = model
        print(f"  segmented {case['index']} ({case['modality']})", flush=True)


def ours(semantic, min_size: int, repeat: int, **options):
    """Instances and the fastest of ``repeat`` timed calls (robust to a loaded machine)."""
    from convpaint.instances import to_instances

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        ids = to_instances(semantic, classes=[2], min_size=min_size, **options)
        best = min(best, time.perf_counter() - t0)
    return ids, best


# -- the anchor's instance step (runs in its venv) ----------------------------------------
def anchor_child(spec_file: str) -> int:
    """Apply napari-convpaint's instance step to every listed .npy; save ids and times."""
    real = os.dup(1)  # it prints one line per class: keep stdout for the result
    os.dup2(2, 1)
    spec = json.loads(Path(spec_file).read_text())
    sys.path.insert(0, spec["anchor_dir"])
    import numpy as np
    import tv_compat  # noqa: F401  (before torch / napari_convpaint, see its README)
    from napari_convpaint.utils import create_instances_from_semantic

    times = {}
    for job in spec["jobs"]:
        seg = np.load(job["semantic"])
        best = float("inf")
        for _ in range(spec["repeat"]):  # the fastest call, as for ours
            t0 = time.perf_counter()
            ids = create_instances_from_semantic(seg, min_size=job["min_size"], warn=False)
            best = min(best, time.perf_counter() - t0)
        times[job["out"]] = best
        np.save(job["out"], np.asarray(ids, np.int32))
    os.write(real, ("RESULT " + json.dumps(times) + "\n").encode())
    return 0


def run_anchor(anchor: Path, jobs: list[dict], repeat: int) -> dict[str, float]:
    env = {**os.environ, "HOME": str(anchor / "home"), "QT_QPA_PLATFORM": "offscreen"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump({"anchor_dir": str(ANCHOR_DIR), "jobs": jobs, "repeat": repeat}, fh)
    try:
        python = str(anchor / "venv" / "bin" / "python")
        out = subprocess.run(
            [python, __file__, "--_anchor-child", fh.name], capture_output=True, text=True, env=env
        )
    finally:
        os.unlink(fh.name)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"napari-convpaint instance step failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def memory(n: int, seed: int = 0) -> str:
    """Peak memory (tracemalloc) of to_instances on an n x n plane of random disks."""
    import tracemalloc

    import numpy as np

    from convpaint.instances import to_instances

    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[-20:21, -20:21]
    labels = np.ones((n + 40, n + 40), np.uint8)  # cropped to n x n below
    for cy, cx in rng.integers(20, n + 20, (n * n // 2800, 2)):  # ~800 disks on 1500^2
        r = rng.integers(8, 20)
        labels[cy - 20 : cy + 21, cx - 20 : cx + 21][yy**2 + xx**2 <= r * r] = 2
    labels = np.ascontiguousarray(labels[20:-20, 20:-20])
    tracemalloc.start()
    t0 = time.perf_counter()
    ids = to_instances(labels)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    return (
        f"{n}x{n} plane, {ids.max()} instances: {seconds:.2f} s, peak {peak / 1e6:.0f} MB "
        f"= {peak / n / n:.1f} bytes per pixel"
    )


# -- summary ------------------------------------------------------------------------------
def summarise(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["modality"], r["source"], r["method"], r["min_size"]), []).append(r)
    out = []
    for (modality, source, method, min_size), rs in groups.items():
        out.append(
            {
                "modality": modality,
                "source": source,
                "method": method,
                "min_size": min_size,
                "images": len(rs),
                "f1": statistics.fmean(r["f1"] for r in rs),
                "miou": statistics.fmean(r["miou"] for r in rs),
                "n_pred": statistics.fmean(r["n_pred"] for r in rs),
                "n_true": statistics.fmean(r["n_true"] for r in rs),
                "ms": 1000 * statistics.median(r["seconds"] for r in rs),
            }
        )
    return out


def markdown(summary: list[dict], meta: dict) -> str:
    lines = [
        "| modality | semantic input | instance step | min_size | images | F1 @ IoU 0.5 "
        "| mean matched IoU | objects (true) | ms / image |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        lines.append(
            f"| {s['modality']} | {s['source']} | {s['method']} | {s['min_size']} | {s['images']} "
            f"| {s['f1']:.3f} | {s['miou']:.3f} | {s['n_pred']:.1f} ({s['n_true']:.1f}) "
            f"| {s['ms']:.1f} |"
        )
    lines.append("")
    for k, v in meta.items():
        lines.append(f"- {k}: {v}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--anchor", type=Path, help="napari-convpaint venv folder (setup_env.sh)")
    parser.add_argument("--images", type=int, default=20, help="fluorescence images")
    parser.add_argument("--he", type=int, default=6, help="H&E images")
    parser.add_argument(
        "--offset", type=float, default=0.5, help="where in each step to pick (0: the tuning set)"
    )
    parser.add_argument("--data", type=Path, default=DSB)
    parser.add_argument(
        "--no-volume", dest="volume", action="store_false", help="skip the 3-D volume"
    )
    parser.add_argument("--extractors", nargs="+", default=["ilastik", "vgg16"])
    parser.add_argument("--coverage", type=float, default=0.01, help="scribbled fraction")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per instance step")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--memory", type=int, metavar="N", help="only: peak memory on an N^2 plane")
    parser.add_argument("--_anchor-child", dest="child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return anchor_child(args.child)
    if args.memory:
        print(memory(args.memory))
        return 0
    import numpy as np

    if not (args.data / "index.json").is_file():
        raise SystemExit(f"{args.data}/index.json not found: pass --data DIR")
    anchor = args.anchor
    anchor_ok = anchor is not None and (anchor / "venv" / "bin" / "python").is_file()
    checkpoint = anchor / CHECKPOINT if anchor is not None else None
    weights = str(checkpoint) if checkpoint is not None and checkpoint.is_file() else "random"
    if not anchor_ok:
        print(f"napari-convpaint venv not found ({anchor}): reporting this project's side only")

    cases = []
    for entry in pick_images(args.data, args.images, args.he, args.offset):
        image, truth = load(args.data, entry)
        cases.append({**entry, "image": image, "truth": truth})
    if args.volume and (VOLUME / "img3d.tif").is_file():  # 3-D: both steps in 3-D
        import tifffile

        image, truth = (tifffile.imread(VOLUME / f) for f in ("img3d.tif", "mask3d.tif"))
        cases.append({"index": "img3d", "modality": "3-D", "axes": "ZYX", "image": image,
                      "truth": truth.astype(np.int32)})  # fmt: skip
    print(f"segmenting {len(cases)} images with {args.extractors} ...", flush=True)
    segment_all(cases, args.extractors, weights, args.seed, args.coverage)

    rows, jobs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            for source, sem in case["semantic"].items():
                base = {"image": case["index"], "modality": MODALITIES[case["modality"]]}
                variants = {"convpaint.to_instances": {}}
                if sem.ndim == 3:  # nuclei extend ~7 x 15 x 14 voxels: Z spacing 2
                    variants["convpaint.to_instances, spacing=(2, 1, 1)"] = {"spacing": (2, 1, 1)}
                for min_size in (OUR_MIN, ANCHOR_MIN):
                    for method, options in variants.items():
                        axes = "ZYX" if sem.ndim == 3 else None
                        ids, secs = ours(sem, min_size, args.repeat, axes=axes, **options)
                        score = match(case["truth"], ids)
                        rows.append({**base, "source": source, "method": method,
                                     "min_size": min_size, "seconds": secs, **score})  # fmt: skip
                    if anchor_ok:
                        stem = f"{case['index']}_{source.replace(' ', '_')}"
                        np.save(f"{tmp}/{stem}.npy", sem)
                        jobs.append({"semantic": f"{tmp}/{stem}.npy", "min_size": min_size,
                                     "out": f"{tmp}/{stem}_{min_size}_ids.npy",
                                     "row": {**base, "source": source}})  # fmt: skip
        if jobs:
            print(f"napari-convpaint instance step on {len(jobs)} inputs ...", flush=True)
            keep = ("semantic", "min_size", "out")
            times = run_anchor(anchor, [{k: j[k] for k in keep} for j in jobs], args.repeat)
            for job in jobs:
                truth = next(c["truth"] for c in cases if c["index"] == job["row"]["image"])
                score = match(truth, np.load(job["out"]))
                rows.append({**job["row"], "method": "napari-convpaint 1.2.0",
                             "min_size": job["min_size"], "seconds": times[job["out"]], **score})  # fmt: skip
    order = {"ground truth": 0, **{e: i + 1 for i, e in enumerate(args.extractors)}}
    place = {"fluorescence": 0, "H&E": 1, "3-D": 2}
    rows.sort(key=lambda r: (place[r["modality"]], order[r["source"]], r["method"]))
    summary = summarise(rows)
    fg = {
        e: statistics.fmean(c["fg_iou"][e] for c in cases) for e in args.extractors
    }  # semantic quality, for context
    meta = {
        "images": f"{args.images} fluorescence + {args.he} H&E of {args.data.name} (offset "
        f"{args.offset}: "
        + " ".join(c["index"] for c in cases if c["modality"] != "3-D")
        + ")"
        + (
            ", 3-D: stardist_bundled img3d.tif"
            if any(c["modality"] == "3-D" for c in cases)
            else ""
        ),
        "scribbles": f"generate_scribbles(mask > 0, {args.coverage}, seed={args.seed})",
        "vgg16 weights": "random-initialised checkpoint (seed 0) of the anchor"
        if weights != "random"
        else 'weights="random" (no download here)',
        "foreground IoU of the segmentation": ", ".join(f"{e} {v:.3f}" for e, v in fg.items()),
        "anchor": "napari-convpaint 1.2.0 create_instances_from_semantic"
        if anchor_ok
        else "not run (no venv): this project's side only",
        "cpu": f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end",
    }
    text = markdown(summary, meta)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "summary": summary, "rows": rows}, indent=1))
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
