"""Head-to-head: napari-convpaint 1.2.0 (the published Convpaint) against this project.

    python benchmarks/compare_napari_convpaint.py --repeat 3 \
        --json docs/benchmarks/compare-napari-convpaint.json \
        --markdown docs/benchmarks/compare-napari-convpaint.md

Both sides get the same inputs: one DSB 2018 fluorescence image (gray) and one H&E
image (RGB) from ``../shared/data/dsb2018_stage1_train`` (``--synthetic``: generated
images instead), scribbles drawn from the ground truth (foreground = mask > 0) with
:func:`convpaint.scribbles.generate_scribbles`, training on the original image and
segmenting it mirror-tiled to ``--size``² (the anchor's own ``bench_anchor.py --tile-to``),
and the same VGG16 checkpoint: a random-initialised ``vgg16-397923af.pth`` (no download
here) that napari-convpaint finds in its hub cache and that ``vgg16`` gets as ``weights=``.

napari-convpaint runs in its own venv (``--anchor-venv``, made on first use with
``../shared/anchor/setup_env.sh``, ~2 min, 2.3 GB) with its defaults: VGG16 layer 0,
scalings 1, 2, 4, CatBoost, or ``use_rf=True`` (random forest).  This project runs
``vgg16`` (same layer and scalings) and ``ilastik`` with its defaults.

Every (image, side) case is one subprocess (own peak RSS); cases are interleaved
(anchor, ours, anchor, ours, ...) ``--repeat`` times.  A process trains once, then
segments ``1 + --warm`` times: the first call (slower: first touch of fresh memory) and
the median of the warm ones are reported separately.  Tables give medians over runs and
ratios anchor / ours (> 1: this project is faster or leaner).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = next(  # ../shared of the project (or of a folder above a git worktree)
    (d / "shared" for d in ROOT.parents if (d / "shared" / "data").is_dir()), ROOT.parent / "shared"
)
DSB = SHARED / "data" / "dsb2018_stage1_train"
ANCHOR_DIR = SHARED / "anchor"
CHECKPOINT = "vgg16-397923af.pth"
IMAGES = {"gray": "532", "rgb": "646"}  # largest / most nuclei of each modality
ANCHOR_CLFS = ("catboost", "rf")
OURS = ("vgg16", "ilastik")


# -- inputs -----------------------------------------------------------------------------------
def mirror_tile(a, n: int):
    """Mirror-pad the first two axes of ``a`` up to n x n (as ``bench_anchor.py --tile-to``)."""
    import numpy as np

    h, w = a.shape[:2]
    pad = [(0, max(0, n - h)), (0, max(0, n - w))] + [(0, 0)] * (a.ndim - 2)
    return np.ascontiguousarray(np.pad(a, pad, mode="symmetric")[:n, :n])


def synthetic(kind: str, seed: int = 0):
    """A 512 x 640 image of noisy blobs (gray, or H&E-like RGB) and its 0/1 mask."""
    import numpy as np
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    shape = (512, 640)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    mask = np.zeros(shape, np.uint8)
    for _ in range(120):
        cy, cx = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        ry, rx = rng.uniform(5, 14, 2)
        mask[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1] = 1
    smooth = ndimage.gaussian_filter(mask.astype(np.float32), 1.5)
    noise = rng.normal(0, 0.08, shape)
    if kind == "gray":
        image = np.clip(30 + 170 * smooth + 255 * noise, 0, 255).astype(np.uint8)
    else:  # nuclei purple (hematoxylin) on pink (eosin)
        pink, purple = np.array([230, 170, 200]), np.array([90, 50, 140])
        rgb = pink + (purple - pink) * smooth[..., None] + 255 * noise[..., None]
        image = np.clip(rgb, 0, 255).astype(np.uint8)
    return image, mask


def load_case(kind: str, index: str | None, use_synthetic: bool):
    """(image, foreground mask, description) of one benchmark image."""
    import numpy as np

    if use_synthetic:
        image, mask = synthetic(kind)
        return image, mask, f"synthetic {kind}"
    import tifffile
    from skimage.io import imread

    index = index or IMAGES[kind]
    image_file, mask_file = DSB / "images" / f"{index}.png", DSB / "masks" / f"{index}.tif"
    if not image_file.is_file():
        raise SystemExit(f"{image_file} not found: pass --data DIR, or --synthetic")
    image = imread(image_file)
    if kind == "rgb" and (image.ndim != 3 or image.shape[-1] != 3):
        raise SystemExit(f"DSB image {index} is not RGB (shape {image.shape}): pick an H&E image")
    if kind == "gray" and image.ndim != 2:
        raise SystemExit(f"DSB image {index} is not gray (shape {image.shape})")
    mask = (tifffile.imread(mask_file) > 0).astype(np.uint8)
    label = "fluorescence (gray)" if kind == "gray" else "H&E (RGB)"
    return image, mask, f"DSB {index} {label}"


def prepare(args, workdir: Path) -> list[dict]:
    """Write each image's arrays once; both sides read the very same files."""
    import numpy as np

    from convpaint.scribbles import generate_scribbles

    cases = []
    for kind in args.images:
        index = args.gray if kind == "gray" else args.rgb
        image, mask, desc = load_case(kind, index, args.synthetic)
        scribbles = generate_scribbles(mask, args.coverage, seed=args.seed)
        big, big_mask = mirror_tile(image, args.size), mirror_tile(mask, args.size)
        files = {}
        for name, arr in (
            ("train_image", image),
            ("scribbles", scribbles),
            ("image", big),
            ("truth", big_mask.astype(np.int64) + 1),  # class k -> label k + 1
        ):
            files[name] = str(workdir / f"{kind}_{name}.npy")
            np.save(files[name], arr)
        cases.append(
            {
                "kind": kind,
                "desc": desc,
                "train_shape": list(image.shape),
                "scribbled_px": int((scribbles > 0).sum()),
                "files": files,
            }
        )
    return cases


# -- anchor venv ------------------------------------------------------------------------------
def anchor_env(venv_dir: Path, setup: bool) -> tuple[list[str], dict, Path]:
    """(python command, environment, checkpoint) of napari-convpaint; set it up if needed."""
    python = venv_dir / "venv" / "bin" / "python"
    home = venv_dir / "home"
    checkpoint = home / ".cache" / "torch" / "hub" / "checkpoints" / CHECKPOINT
    if not python.is_file():
        if not setup:
            raise SystemExit(f"no napari-convpaint venv in {venv_dir} (drop --no-setup)")
        print(f"setting up napari-convpaint 1.2.0 in {venv_dir} (~2 min, 2.3 GB) ...", flush=True)
        subprocess.run(["bash", str(ANCHOR_DIR / "setup_env.sh"), str(venv_dir)], check=True)
    env = {**os.environ, "HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    if not checkpoint.is_file():  # the venv without its checkpoint: write it (random, seed 0)
        subprocess.run(
            [str(python), str(ANCHOR_DIR / "make_fake_vgg_weights.py")], check=True, env=env
        )
    return [str(python)], env, checkpoint


# -- one measured process (runs in either venv) -----------------------------------------------
def child(spec: dict) -> dict:
    """Train once, segment 1 + warm times; timings, peak RSS and mIoU as a dict."""
    import numpy as np

    f = spec["files"]
    train_image, scribbles = np.load(f["train_image"]), np.load(f["scribbles"])
    image, truth = np.load(f["image"]), np.load(f["truth"])
    t0 = time.perf_counter()
    if spec["side"] == "anchor":
        model, segment, train = _anchor_model(spec, image.ndim == 3)
    else:
        model, segment, train = _our_model(spec, image.ndim == 3)
    init_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    train(train_image, scribbles)
    train_s = time.perf_counter() - t0
    times = []
    for _ in range(1 + spec["warm"]):
        t0 = time.perf_counter()
        labels = segment(image)
        times.append(time.perf_counter() - t0)
    labels = np.asarray(labels)
    if labels.shape != truth.shape:
        raise RuntimeError(f"labels have shape {labels.shape}, expected {truth.shape}")
    ious = []
    for c in np.unique(truth):
        union = np.logical_or(labels == c, truth == c).sum()
        ious.append(np.logical_and(labels == c, truth == c).sum() / union)
    return {
        "init_s": init_s,
        "train_s": train_s,
        "first_s": times[0],
        "warm_s": statistics.median(times[1:]) if times[1:] else float("nan"),
        "segment_s_all": times,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "miou": float(np.mean(ious)),
        "loadavg_1min_end": os.getloadavg()[0],
    }


def _anchor_model(spec: dict, rgb: bool):
    import numpy as np

    sys.path.insert(0, spec["anchor_dir"])
    import tv_compat  # noqa: F401  (before torchvision / napari_convpaint, see its README)
    from napari_convpaint.convpaint_model import ConvpaintModel

    model = ConvpaintModel()  # vgg16 features.0, scalings [1, 2, 4], CatBoost defaults
    model.set_param("channel_mode", "rgb" if rgb else "single", ignore_warnings=True)

    def channels_first(a):
        return np.ascontiguousarray(np.moveaxis(a, -1, 0)) if rgb else a

    def train(image, scribbles):
        model.train(channels_first(image), scribbles, use_rf=spec["variant"] == "rf")

    return model, lambda image: model.segment(channels_first(image)), train


def _our_model(spec: dict, rgb: bool):
    import convpaint

    options = {"weights": spec["checkpoint"]} if spec["variant"] == "vgg16" else {}
    model = convpaint.ConvpaintModel(spec["variant"], progress=False, **options)
    axes = "YXC" if rgb else "YX"
    return (
        model,
        lambda image: model.segment(image, axes=axes),
        lambda image, scribbles: model.train(image, scribbles, axes=axes),
    )


def run_child(cmd: list[str], env: dict | None, spec: dict, timeout: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(spec, fh)
    try:
        out = subprocess.run(
            [*cmd, __file__, "--_child", fh.name],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    finally:
        os.unlink(fh.name)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{spec['side']} {spec['variant']} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def child_main(spec_file: str) -> int:
    spec = json.loads(Path(spec_file).read_text())
    real = os.dup(1)  # CatBoost logs every iteration to stdout: keep it off the result line
    os.dup2(2, 1)
    result = child(spec)
    os.write(real, ("RESULT " + json.dumps(result) + "\n").encode())
    return 0


# -- summary ----------------------------------------------------------------------------------
def label(side: str, variant: str) -> str:
    if side == "anchor":
        return f"napari-convpaint 1.2.0, vgg16, {'CatBoost' if variant == 'catboost' else 'RF'}"
    return f"this project, {variant}"


def summarise(runs: list[dict], size: int) -> list[dict]:
    rows = []
    keys = sorted(
        {(r["kind"], r["side"], r["variant"]) for r in runs},
        key=lambda k: (k[0] != "gray", k[1] != "anchor", k[2]),
    )
    for kind, side, variant in keys:
        rs = [r for r in runs if (r["kind"], r["side"], r["variant"]) == (kind, side, variant)]
        med = {
            k: statistics.median(r[k] for r in rs)
            for k in ("train_s", "first_s", "warm_s", "peak_rss_mib", "miou", "init_s")
        }
        rows.append(
            {
                "kind": kind,
                "image": rs[0]["desc"],
                "side": side,
                "variant": variant,
                "runs": len(rs),
                **med,
                "first_range": [min(r["first_s"] for r in rs), max(r["first_s"] for r in rs)],
                "warm_range": [min(r["warm_s"] for r in rs), max(r["warm_s"] for r in rs)],
                "warm_mpix_s": size * size / 1e6 / med["warm_s"],
            }
        )
    return rows


def ratios(rows: list[dict]) -> list[dict]:
    out = []
    for kind in dict.fromkeys(r["kind"] for r in rows):
        ours = next(
            (r for r in rows if (r["kind"], r["side"], r["variant"]) == (kind, "ours", "vgg16")),
            None,
        )
        if ours is None:
            continue
        for a in (r for r in rows if r["kind"] == kind and r["side"] == "anchor"):
            out.append(
                {
                    "image": a["image"],
                    "anchor": a["variant"],
                    "warm": a["warm_s"] / ours["warm_s"],
                    "first": a["first_s"] / ours["first_s"],
                    "train": a["train_s"] / ours["train_s"],
                    "peak_rss": a["peak_rss_mib"] / ours["peak_rss_mib"],
                }
            )
    return out


def markdown(rows: list[dict], rats: list[dict], meta: dict) -> str:
    size = meta["size"]
    lines = [
        f"Command: `{meta['command']}`",
        "",
        f"Machine: {meta['machine']}; {meta['repeat']} interleaved run(s) per row, each one "
        f"process: train once, segment {size}² once (first call) and {meta['warm']} more "
        "times (warm); medians over runs, [min–max] over runs.",
        "",
        f"| image | implementation | train s | segment {size}² first s | segment {size}² warm s "
        "| warm MPix/s | peak RSS MiB | mIoU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fr, wr = r["first_range"], r["warm_range"]
        lines.append(
            f"| {r['image']} | {label(r['side'], r['variant'])} | {r['train_s']:.2f} "
            f"| {r['first_s']:.2f} [{fr[0]:.2f}–{fr[1]:.2f}] | {r['warm_s']:.2f} "
            f"[{wr[0]:.2f}–{wr[1]:.2f}] | {r['warm_mpix_s']:.2f} | {r['peak_rss_mib']:.0f} "
            f"| {r['miou']:.3f} |"
        )
    if rats:
        lines += [
            "",
            "Ratios napari-convpaint / this project's `vgg16` (> 1: this project is faster or leaner):",
            "",
            "| image | napari-convpaint classifier | warm segment | first segment | train | peak RSS |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {q['image']} | {'CatBoost' if q['anchor'] == 'catboost' else 'RF'} "
            f"| {q['warm']:.2f}× | {q['first']:.2f}× | {q['train']:.2f}× | {q['peak_rss']:.2f}× |"
            for q in rats
        ]
    return "\n".join(lines) + "\n"


# -- driver -----------------------------------------------------------------------------------
def main() -> int:
    global DSB
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--anchor-venv",
        type=Path,
        default=Path("~/.cache/convpaint-anchor"),
        help="napari-convpaint's venv folder (setup_env.sh DIR); made if missing",
    )
    parser.add_argument("--no-setup", action="store_true", help="fail instead of setting it up")
    parser.add_argument("--data", type=Path, help=f"DSB 2018 folder (default {DSB})")
    parser.add_argument("--synthetic", action="store_true", help="generated images, not DSB")
    parser.add_argument("--images", nargs="+", choices=("gray", "rgb"), default=["gray", "rgb"])
    parser.add_argument("--gray", help=f"DSB index of the gray image (default {IMAGES['gray']})")
    parser.add_argument("--rgb", help=f"DSB index of the RGB image (default {IMAGES['rgb']})")
    parser.add_argument("--size", type=int, default=2048, help="edge of the segmented image")
    parser.add_argument("--coverage", type=float, default=0.0075, help="scribbled fraction")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="processes per case")
    parser.add_argument("--warm", type=int, default=2, help="segment calls after the first")
    parser.add_argument("--anchor", nargs="*", choices=ANCHOR_CLFS, default=list(ANCHOR_CLFS))
    parser.add_argument("--ours", nargs="*", choices=OURS, default=list(OURS))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per process")
    parser.add_argument("--json", help="write all runs and the summary here")
    parser.add_argument("--markdown", help="write the markdown tables here")
    parser.add_argument("--_child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        return child_main(args._child)
    if args.data:
        DSB = args.data

    anchor_cmd = anchor_env_vars = None
    checkpoint = None
    if args.anchor or "vgg16" in args.ours:
        anchor_cmd, anchor_env_vars, checkpoint = anchor_env(
            args.anchor_venv.expanduser(), not args.no_setup
        )
    runs = []
    with tempfile.TemporaryDirectory(prefix="convpaint-compare-") as tmp:
        cases = prepare(args, Path(tmp))
        # interleave: anchor, ours, anchor, ours, ... (pairs by position)
        anchors = [("anchor", v) for v in args.anchor]
        ours = [("ours", v) for v in args.ours]
        order = [x for pair in zip(anchors, ours, strict=False) for x in pair]
        order += anchors[len(ours) :] + ours[len(anchors) :]
        for rep in range(args.repeat):
            for case in cases:
                for side, variant in order:
                    spec = {
                        "side": side,
                        "variant": variant,
                        "files": case["files"],
                        "warm": args.warm,
                        "checkpoint": str(checkpoint) if checkpoint else None,
                        "anchor_dir": str(ANCHOR_DIR),
                    }
                    if side == "anchor":
                        r = run_child(anchor_cmd, anchor_env_vars, spec, args.timeout)
                    else:
                        r = run_child([sys.executable], None, spec, args.timeout)
                    r.update(
                        rep=rep, kind=case["kind"], desc=case["desc"], side=side, variant=variant
                    )
                    runs.append(r)
                    print(
                        f"run {rep + 1}/{args.repeat} {case['desc']:<28} {label(side, variant):<44} "
                        f"train {r['train_s']:6.2f} s  first {r['first_s']:6.2f} s  warm "
                        f"{r['warm_s']:6.2f} s  peak {r['peak_rss_mib']:6.0f} MiB  mIoU {r['miou']:.3f}",
                        flush=True,
                    )
    rows = summarise(runs, args.size)
    rats = ratios(rows)
    meta = {
        "command": "python benchmarks/compare_napari_convpaint.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "size": args.size,
        "repeat": args.repeat,
        "warm": args.warm,
        "cases": [
            {k: c[k] for k in ("kind", "desc", "train_shape", "scribbled_px")} for c in cases
        ],
        "checkpoint": f"{CHECKPOINT}: random init (seed 0), not ImageNet",
    }
    text = markdown(rows, rats, meta)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"meta": meta, "rows": rows, "ratios": rats, "runs": runs}, indent=1)
        )
    if args.markdown:
        Path(args.markdown).write_text(text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
