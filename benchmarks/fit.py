"""The forest fit: scikit-learn vs scikit-learn-intelex, max_samples and ExtraTrees (issue 18).

    python benchmarks/fit.py [--repeat 3] [--threads 1,2] [--samples 2000,7000,20000] \
        [--classes 2,4,11] [--figure docs/figures/fit.png]

Data: per class count k, an RGB 1000 x 1000 (1 MPix) synthetic scene of k classes
(``train_multiclass.make_scene``: Voronoi regions, colour, texture, noise); the
``ilastik`` features of its scribbled pixels (``generate_scribbles``, 2.5 %, seed 0)
are the training pool, those of 100k random other pixels the held-out set (both
captured from ``ConvpaintModel.train``).  Every learner has 100 trees and fits a
random subset of ``n`` pool samples (seed 0, the same for all learners).

Timing: per repeat, every (k, n, threads) fits each learner once, the learners'
order rotated between repeats (interleaved); the tables give medians and the ratio
to scikit-learn's RandomForest (the old default) at the same point.  A second table
gives, per class count at 7k samples (threads = the last of ``--threads``):
prediction through ``convpaint.classifier.predict_proba_features`` (the compiled
kernel, one thread) in MPix/s, held-out pixel accuracy against the scene's ground
truth and the fraction of held-out labels agreeing with scikit-learn's forest
(seed 0); the "seed floor" row is scikit-learn's forest with seed 1.

The accuracy guard (docs/interactive.md, "Fast fit") compares two DSB evaluations,
``CONVPAINT_FIT=sklearn`` and ``CONVPAINT_FIT=intelex convpaint evaluate ...``, run by run:

    python benchmarks/fit.py --compare OLD/results.csv NEW/results.csv [FLOOR/results.csv]

and the floor of that difference, scikit-learn's forest with another seed on the same
scribbles (the evaluation's scribbles stay seeded by ``--seed`` 0):

    CONVPAINT_FIT=sklearn python benchmarks/fit.py --seed-floor DATASET OUT \
        [--modality fluorescence_gray:24,HE_histology_rgb:16] [--coverage 0.05,0.1] [-e ilastik]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

N_TREES = 100
OLD = "scikit-learn RF (old default)"


def learners(threads: int, seed: int = 0) -> dict:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    from convpaint.fast_fit import IntelexRandomForest, intelex_available

    common = {"n_estimators": N_TREES, "n_jobs": threads, "random_state": seed}
    out = {
        OLD: lambda: RandomForestClassifier(**common),
        "scikit-learn RF, max_samples=0.25": lambda: RandomForestClassifier(
            max_samples=0.25, **common
        ),
        "scikit-learn ExtraTrees": lambda: ExtraTreesClassifier(**common),
    }
    if intelex_available():
        out["scikit-learn-intelex RF (new default)"] = lambda: IntelexRandomForest(**common)
        out["scikit-learn-intelex RF, max_samples=0.25"] = lambda: IntelexRandomForest(
            max_samples=0.25, **common
        )
    return out


class _Capture:
    """A stand-in classifier that keeps the samples ``train`` hands it."""

    samples: dict = {}

    def fit(self, x, y):
        _Capture.samples = {"x": np.array(x, np.float32), "y": np.array(y)}
        return self

    def predict_proba(self, x):  # pragma: no cover - never called
        raise NotImplementedError


def samples(n_classes: int, shape=(1000, 1000)):
    """(pool x, pool y, held-out x, held-out y) of the ilastik features of a k-class scene."""
    from train_multiclass import make_scene

    import convpaint
    from convpaint.scribbles import generate_scribbles

    image, labels = make_scene(seed=n_classes, shape=shape, n_classes=n_classes)
    noise = np.random.default_rng(2).normal(0, 40, image.shape)  # overlapping classes
    image = np.clip(image + noise, 0, 255).astype(np.uint8)
    model = convpaint.ConvpaintModel("ilastik", classifier=_Capture(), progress=False)
    scribbles = generate_scribbles(labels, 0.025, seed=0)
    model.train(image, scribbles)
    pool = _Capture.samples
    rng = np.random.default_rng(1)
    held = np.zeros(labels.shape, np.uint8)
    free = np.flatnonzero(scribbles.ravel() == 0)
    pick = rng.choice(free, min(100_000, free.size // 2), replace=False)
    held.ravel()[pick] = labels.ravel()[pick] + 1  # the scribbles' labels: class + 1
    model.train(image, held)
    test = _Capture.samples
    return pool["x"], pool["y"], test["x"], test["y"]


def fit_seconds(make, x, y) -> tuple[float, float, object]:
    """(wall s, CPU s of this process, the fitted learner)."""
    clf = make()
    c0, t0 = time.process_time(), time.perf_counter()
    clf.fit(x, y)
    return time.perf_counter() - t0, time.process_time() - c0, clf


def predict_rate(clf, xt: np.ndarray) -> tuple[float, np.ndarray]:
    from convpaint.classifier import predict_proba_features

    feats = np.ascontiguousarray(xt.T)
    predict_proba_features(clf, feats[:, :1000])  # compile / warm
    t0 = time.perf_counter()
    proba = predict_proba_features(clf, feats)
    dt = time.perf_counter() - t0
    return feats.shape[1] / dt / 1e6, clf.classes_[np.argmax(proba, axis=0)]


def _figure(path: str, tables: dict, points: list, names: list, threads: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(1, len(tables), figsize=(7 * len(tables), 4.2), squeeze=False)
    width = 0.8 / len(names)
    for ax, (what, table) in zip(axs[0], tables.items(), strict=True):
        for i, name in enumerate(names):
            vals = [statistics.median(table[(k, n, threads, name)]) for k, n in points]
            ax.bar(np.arange(len(points)) + i * width, vals, width, label=name)
        ax.set_xticks(np.arange(len(points)) + 0.4 - width / 2)
        ax.set_xticklabels([f"{n // 1000}k\n{k} cl." for k, n in points])
        ax.set_ylabel(f"fit {what} s ({threads} thread{'s' * (threads > 1)}, median)")
        ax.set_yscale("log")
    axs[0][0].set_title(f"Forest fit, {N_TREES} trees, ilastik features (benchmarks/fit.py)")
    axs[0][0].legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=90)


def compare(old: str, new: str, floor: str | None = None) -> None:
    """Paired mIoU of two evaluations (same images, coverages, extractors), optionally a
    third (the seed floor) against the first."""
    import pandas as pd

    key = ["image", "coverage", "extractor"]
    a, b = pd.read_csv(old), pd.read_csv(new)
    m = a.merge(b, on=key, suffixes=("_old", "_new"))
    m = m[m.error_old.isna() & m.error_new.isna()]
    m["diff"] = m.miou_new - m.miou_old
    cols = {"runs": ("diff", "size"), "old": ("miou_old", "mean"), "new": ("miou_new", "mean")}
    cols |= {"new - old": ("diff", "mean"), "train s old": ("train_s_old", "mean")}
    cols |= {"train s new": ("train_s_new", "mean")}
    if floor:
        f = a.merge(pd.read_csv(floor), on=key, suffixes=("", "_f"))
        f["floor"] = f.miou_f - f.miou
        m = m.merge(f[[*key, "floor"]], on=key, how="left")
        cols["seed floor (other seed - old)"] = ("floor", "mean")
    print(f"paired runs: {len(m)} (old file {len(a)} rows, new file {len(b)})")
    print(
        f"mean mIoU: old {m.miou_old.mean():.4f}, new {m.miou_new.mean():.4f}, "
        f"difference {m['diff'].mean():+.4f} (sd of per-run differences {m['diff'].std():.4f})"
    )
    if floor:
        sub = m.dropna(subset=["floor"])
        print(
            f"on the {len(sub)} runs with a seed-floor row: new - old {sub['diff'].mean():+.4f}, "
            f"other seed - old {sub.floor.mean():+.4f}; mean |difference| "
            f"{sub['diff'].abs().mean():.4f} vs {sub.floor.abs().mean():.4f}"
        )
    for by in (["modality_old", "extractor"], ["coverage"]):
        g = m.groupby(by).agg(**cols)
        print(f"\n| {' | '.join(by)} | {' | '.join(g.columns)} |")
        print("|---" * (len(by) + len(g.columns)) + "|")
        for idx, row in g.iterrows():
            keys = idx if isinstance(idx, tuple) else (idx,)
            vals = [f"{v:.0f}" if c == "runs" else f"{v:.4f}" for c, v in row.items()]
            print(f"| {' | '.join(map(str, keys))} | {' | '.join(vals)} |")


def seed_floor(argv) -> None:
    """The DSB evaluation with the forest seeded 1 (scribbles still seeded 0)."""
    from convpaint import get_extractor
    from convpaint.evaluation import evaluate, make_extractor_runs, open_dataset
    from convpaint.model import ConvpaintModel

    p = argparse.ArgumentParser()
    p.add_argument("dataset")
    p.add_argument("out")
    p.add_argument("--modality", default="fluorescence_gray:24,HE_histology_rgb:16")
    p.add_argument("--coverage", default="0.05,0.1,0.5,1,2.5")
    p.add_argument("-e", "--extractor", action="append")
    args = p.parse_args(argv)
    runs = make_extractor_runs(args.extractor or ["ilastik"])
    built = {r.label: get_extractor(r.name, **r.kwargs) for r in runs}
    evaluate(
        open_dataset(args.dataset, args.modality),
        runs,
        [float(c) for c in args.coverage.split(",")],
        args.out,
        seed=0,
        progress=False,
        model_factory=lambda run, seed: ConvpaintModel(built[run.label], seed=1, progress=False),
    )


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--compare"]:
        compare(*argv[1:])
        return 0
    if argv[:1] == ["--seed-floor"]:
        seed_floor(argv[1:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--samples", default="2000,7000,20000")
    p.add_argument("--classes", default="2,4,11")
    p.add_argument("--figure", default=None, help="bar chart of the fit times (PNG)")
    args = p.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    sizes = [int(n) for n in args.samples.split(",")]
    class_counts = [int(k) for k in args.classes.split(",")]
    warnings.simplefilter("ignore")
    data = {}
    for k in class_counts:
        t0 = time.perf_counter()
        data[k] = samples(k)
        print(
            f"{k} classes: pool {data[k][0].shape[0]} x {data[k][0].shape[1]} features, "
            f"held-out {data[k][2].shape[0]} ({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    rng = np.random.default_rng(0)
    subsets = {
        (k, n): rng.choice(len(data[k][1]), min(n, len(data[k][1])), replace=False)
        for k in class_counts
        for n in sizes
    }
    names = list(learners(1))
    fit: dict = defaultdict(list)
    cpu: dict = defaultdict(list)
    load = [os.getloadavg()[0]]
    fitted: dict = {}
    for r in range(args.repeat):
        order = names[r % len(names) :] + names[: r % len(names)]
        for k in class_counts:
            for n in sizes:
                x, y = data[k][0][subsets[k, n]], data[k][1][subsets[k, n]]
                for t in threads:
                    makers = learners(t)
                    for name in order:
                        dt, dc, clf = fit_seconds(makers[name], x, y)
                        fit[(k, n, t, name)].append(dt)
                        cpu[(k, n, t, name)].append(dc)
                        fitted[(k, n, t, name)] = clf
        load.append(os.getloadavg()[0])
        print(f"repeat {r + 1}/{args.repeat} done", flush=True)

    points = [(k, n) for k in class_counts for n in sizes]
    print(
        f"\n### Fit seconds (median of {args.repeat}, {N_TREES} trees; ratio to {OLD}); "
        f"1-min load average {' -> '.join(f'{v:.1f}' for v in load)} on {os.cpu_count()} CPUs\n"
    )
    head = " | ".join(f"{n // 1000}k x {k}" for k, n in points)
    for t in threads:
        for what, table in (("wall", fit), ("CPU (process time, all threads)", cpu)):
            print(f"**{t} thread{'s' * (t > 1)}, {what} s**\n")
            print(f"| learner | {head} |")
            print("|---" * (len(points) + 1) + "|")
            for name in names:
                cells = []
                for k, n in points:
                    med = statistics.median(table[(k, n, t, name)])
                    ratio = statistics.median(table[(k, n, t, OLD)]) / med
                    cells.append(f"{med:.3f}" + ("" if name == OLD else f" ({ratio:.1f}x)"))
                print(f"| {name} | {' | '.join(cells)} |")
            print()

    t = threads[-1]
    n = 7000 if 7000 in sizes else sizes[len(sizes) // 2]
    print(
        f"### Prediction and agreement ({n // 1000}k samples, fitted with {t} thread(s); "
        "100k held-out pixels)\n"
    )
    print(
        "| learner | "
        + " | ".join(
            f"{k} classes: predict MPix/s, accuracy, agree with {OLD.split(' (')[0]}"
            for k in class_counts
        )
        + " |"
    )
    print("|---" * (len(class_counts) + 1) + "|")
    from sklearn.ensemble import RandomForestClassifier

    rows = dict.fromkeys(names, "")
    rows["seed floor: scikit-learn RF, seed 1"] = ""
    for k in class_counts:
        x, y = data[k][0][subsets[k, n]], data[k][1][subsets[k, n]]
        xt, yt = data[k][2], data[k][3]
        _, ref = predict_rate(fitted[(k, n, t, OLD)], xt)
        other = RandomForestClassifier(N_TREES, n_jobs=t, random_state=1).fit(x, y)
        extra = {"seed floor: scikit-learn RF, seed 1": other}
        for name, clf in {**{m: fitted[(k, n, t, m)] for m in names}, **extra}.items():
            rate, labels = predict_rate(clf, xt)
            acc, agree = (labels == yt).mean(), (labels == ref).mean()
            rows[name] += f" {rate:.2f}, {acc:.3f}, {agree:.3f} |"
    for name, cells in rows.items():
        print(f"| {name} |{cells}")
    if args.figure:
        _figure(args.figure, {"wall": fit, "CPU": cpu}, points, names, threads[-1])
        print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
