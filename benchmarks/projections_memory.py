"""Peak memory and time of multi-projection ``ilastik``: ("xy",) vs ("xy", "xz", "yz").

Issue 15 item 5 (targets for 20 x 128 x 128: <= 1.5 GB peak and <= 4x the time of
``projections=("xy",)`` in the same run; 20 x 384 x 384: <= 3 GB).  Each configuration
trains and segments in its own child process, so that its peak RSS is its own;
``--repeat`` alternates the configurations and reports medians of the times and the
largest peak::

    nice python benchmarks/projections_memory.py                    # 20 x 128 x 128
    nice python benchmarks/projections_memory.py --shape 20 384 384 --only xy,xz,yz

The stack is synthetic (smoothed-noise blobs in a noisy background, uint8); scribbles
lie on three planes (Z/4, Z/2, 3Z/4).  Default ilastik bank (sigmas up to 10), 100 trees.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
from scipy import ndimage
import convpaint

z, y, x = map(int, sys.argv[1:4])
projections = tuple(sys.argv[4].split(","))
n_estimators = int(sys.argv[5])
rng = np.random.default_rng(0)
blobs = ndimage.gaussian_filter(rng.normal(size=(z, y, x)), (1.5, 4, 4)) > 0.05
vol = np.where(blobs, 150, 70) + rng.normal(0, 25, (z, y, x))
vol = np.clip(vol, 0, 255).astype(np.uint8)
ann = np.zeros(vol.shape, np.uint8)
for k in (z // 4, z // 2, 3 * z // 4):
    ann[k, ::6, ::3] = np.where(blobs[k, ::6, ::3], 2, 1)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
model = convpaint.ConvpaintModel("ilastik", projections=projections, n_estimators=n_estimators)
t0 = time.perf_counter()
model.train(vol, ann, axes="ZYX")
t1 = time.perf_counter()
labels = model.segment(vol, axes="ZYX")
t2 = time.perf_counter()
print(json.dumps({
    "projections": list(projections), "shape": [z, y, x],
    "train_s": t1 - t0, "segment_s": t2 - t1,
    "base_rss_mb": base / 2**20,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "n_features": model.n_features_, "samples": int(np.count_nonzero(ann)),
    "accuracy": float(np.mean((labels == 2) == blobs)),
}))
"""


def run(shape: tuple[int, int, int], projections: str, n_estimators: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, shape), projections, str(n_estimators)],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        sys.exit(f"child {projections} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarise(runs: list[dict]) -> dict:
    out = dict(runs[0])
    for key in ("train_s", "segment_s"):
        out[key] = round(statistics.median(r[key] for r in runs), 2)
    out["total_s"] = round(out["train_s"] + out["segment_s"], 2)
    out["peak_rss_mb"] = round(max(r["peak_rss_mb"] for r in runs))
    out["base_rss_mb"] = round(out["base_rss_mb"])
    out["accuracy"] = round(out["accuracy"], 3)
    out["repeats"] = len(runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape", type=int, nargs=3, default=(20, 128, 128), metavar=("Z", "Y", "X")
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument(
        "--only", action="append", help="run only these projections (e.g. xy,xz,yz); repeatable"
    )
    args = parser.parse_args()
    configs = args.only or ["xy", "xy,xz,yz"]
    runs: dict[str, list[dict]] = {c: [] for c in configs}
    for _ in range(args.repeat):  # interleaved: a load spike hits both configurations
        for c in configs:
            runs[c].append(run(tuple(args.shape), c, args.n_estimators))
    results = {c: summarise(r) for c, r in runs.items()}
    for c, r in results.items():
        print(
            f"projections={c:<9} peak RSS {r['peak_rss_mb']:>6} MB  train {r['train_s']:>7.2f} s  "
            f"segment {r['segment_s']:>7.2f} s  features {r['n_features']}  "
            f"accuracy {r['accuracy']}"
        )
    if "xy" in results and "xy,xz,yz" in results:
        a, b = results["xy"], results["xy,xz,yz"]
        print(
            f"ratio xy+xz+yz / xy: train {b['train_s'] / a['train_s']:.2f}x, segment "
            f"{b['segment_s'] / a['segment_s']:.2f}x, total {b['total_s'] / a['total_s']:.2f}x"
        )
    print(json.dumps({"load": os.getloadavg(), "results": results}))


if __name__ == "__main__":
    main()
