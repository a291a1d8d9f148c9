"""The compiled forest walk (``convpaint.forest_kernel``) against an earlier revision of it.

    python benchmarks/forest_walk.py [--baseline 887af34] [--repeat 3] [--threads 1,2] \
        [--samples 2000,7000,20000] [--classes 2,4,11] [--pixels 1000000] [--cache DIR]

Data (as ``benchmarks/fit.py``): per class count k an RGB 1000 x 1000 synthetic scene
(``train_multiclass.make_scene`` plus noise); its ``ilastik`` features (168) of the
scribbled pixels are the training pool, and the features of every pixel of the scene
(``coarse_to_fine=1``, tile order, as tiles reach the classifier) the pixels to predict.
Each point fits a 100-tree ``RandomForestClassifier`` (seed 0) on n pool samples.

Timing: per repeat, every (k, n, threads) point predicts ``--pixels`` pixels with each
kernel, the order of the kernels alternating between repeats (interleaved: the machine is
shared); the pixels go in chunks of 65,536 (a tile) to a pool of ``threads`` threads.
The tables give medians of CPU seconds (process time: load on a shared machine
inflates wall time, not CPU time) and of wall seconds per MPix, and the speed-up.  Before timing, both
kernels' probabilities are checked against scikit-learn's (bit for bit) on 20k pixels.

The baseline is ``forest_kernel.py`` of the ``--baseline`` git revision, loaded from
``git show`` as a separate module.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL = "packages/convpaint-core/src/convpaint/forest_kernel.py"
CHUNK = 65_536


def baseline_kernel(rev: str, folder: str):
    """``forest_kernel`` of git revision ``rev`` as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{rev}:{KERNEL}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = os.path.join(folder, "forest_kernel_baseline.py")
    with open(path, "w") as fh:
        fh.write(source.replace("from . import jit", "from convpaint import jit"))
    spec = importlib.util.spec_from_file_location("forest_kernel_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scene_data(k: int, cache: str | None):
    """(pool x, pool y, (168, 1 MPix) dense features) of the k-class scene."""
    if cache:
        files = [os.path.join(cache, f"{what}_{k}.npy") for what in ("pool_x", "pool_y", "dense")]
        if all(os.path.exists(f) for f in files):
            return tuple(np.load(f) for f in files)
    from fit import samples
    from train_multiclass import make_scene

    import convpaint
    from convpaint import prediction

    px, py, _, _ = samples(k)
    image, labels = make_scene(seed=k, shape=(1000, 1000), n_classes=k)
    noise = np.random.default_rng(2).normal(0, 40, image.shape)
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    model = convpaint.ConvpaintModel(
        "ilastik", n_estimators=2, progress=False, workers=1, coarse_to_fine=1
    )
    model.train(image, np.where(np.arange(labels.size).reshape(labels.shape) % 97, 0, labels))
    got = []
    original = prediction.predict_proba_features

    def capture(clf, x):
        got.append(np.array(x, np.float32))
        return original(clf, x)

    prediction.predict_proba_features = capture
    try:
        model.predict_proba(image)
    finally:
        prediction.predict_proba_features = original
    dense = np.ascontiguousarray(np.concatenate(got, axis=1))
    if cache:
        os.makedirs(cache, exist_ok=True)
        for f, a in zip(files, (px, py, dense), strict=True):
            np.save(f, a)
    return px, py, dense


def predict_seconds(proba, clf, x: np.ndarray, threads: int) -> tuple[float, float]:
    """(wall s, CPU s of this process) of predicting ``x`` in tiles on ``threads`` threads."""
    chunks = [x[:, s : s + CHUNK] for s in range(0, x.shape[1], CHUNK)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda c: None, range(threads)))  # threads started before timing
        c0, t0 = time.process_time(), time.perf_counter()
        for out in pool.map(lambda c: proba(clf, c), chunks):
            assert out is not None
        return time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> int:
    from sklearn.ensemble import RandomForestClassifier

    from convpaint import forest_kernel
    from convpaint.classifier import _forest_proba

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--baseline", default="887af34", help="git revision of the old kernel")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--samples", default="2000,7000,20000")
    p.add_argument("--classes", default="2,4,11")
    p.add_argument("--pixels", type=int, default=1_000_000)
    p.add_argument("--cache", default=None, help="folder for the scenes' features (.npy)")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    threads = [int(t) for t in args.threads.split(",")]
    sizes = [int(n) for n in args.samples.split(",")]
    class_counts = [int(k) for k in args.classes.split(",")]
    tmp = tempfile.mkdtemp(prefix="forest-walk-")
    kernels = {
        f"before ({args.baseline})": baseline_kernel(args.baseline, tmp).forest_proba,
        "after": forest_kernel.forest_proba,
    }
    names = list(kernels)
    times: dict = {}
    info: dict = {}
    load = [os.getloadavg()[0]]
    forests, pixels = {}, {}
    for k in class_counts:
        px, py, dense = scene_data(k, args.cache)
        reps = -(-args.pixels // dense.shape[1])
        pixels[k] = dense if reps == 1 else np.tile(dense, (1, reps))
        pixels[k] = np.ascontiguousarray(pixels[k][:, : args.pixels])
        del dense
        rng = np.random.default_rng(0)
        for n in sizes:
            idx = rng.choice(len(py), min(n, len(py)), replace=False)
            clf = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=-1)
            forests[k, n] = clf.fit(px[idx], py[idx])
            probe = pixels[k][:, :20_000]
            ref = _forest_proba(clf, probe.T)
            for name, proba in kernels.items():
                if not np.array_equal(proba(clf, probe).T, ref):
                    print(f"note: {name} differs from scikit-learn at k={k}, n={n}")
            packed = forest_kernel.pack_forest(clf)
            info[k, n] = (packed.threshold.size, float(packed.depth.mean()))
        print(f"{k} classes: {pixels[k].shape[0]} features, forests fitted and checked", flush=True)
    for r in range(args.repeat):
        order = names if r % 2 == 0 else names[::-1]
        for (k, n), clf in forests.items():
            for t in threads:
                for name in order:
                    wall, cpu = predict_seconds(kernels[name], clf, pixels[k], t)
                    times.setdefault((k, n, t, name, "wall"), []).append(wall * 1e6 / args.pixels)
                    times.setdefault((k, n, t, name, "CPU"), []).append(cpu * 1e6 / args.pixels)
        load.append(os.getloadavg()[0])
        print(f"repeat {r + 1}/{args.repeat} done", flush=True)
    print(
        f"\n### Forest walk, s per MPix (median of {args.repeat}, 100 trees, "
        f"{args.pixels / 1e6:g} MPix); 1-min load average "
        f"{' -> '.join(f'{v:.1f}' for v in load)} on {os.cpu_count()} CPUs\n"
    )
    for what in ("CPU", "wall"):
        print(f"**{what} s per MPix ({' / '.join(names)}, speed-up)**\n")
        head = " | ".join(f"{t} thread{'s' * (t > 1)}" for t in threads)
        print(f"| samples x classes | nodes, mean depth | {head} |")
        print("|---" * (2 + len(threads)) + "|")
        for (k, n), (nodes, depth) in info.items():
            cells = []
            for t in threads:
                before, after = (statistics.median(times[k, n, t, nm, what]) for nm in names)
                cells.append(f"{before:.2f} / {after:.2f} ({before / after:.2f}x)")
            print(f"| {n // 1000}k x {k} | {nodes}, {depth:.1f} | {' | '.join(cells)} |")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
