"""Peak memory and time of a volumetric ``ilastik`` train + segment (issue 9, target < 3 GB).

Runs the model in a child process (so that its peak RSS is its own) on a synthetic
uint8 Z stack with a few scribbled planes::

    python benchmarks/volumetric_memory.py            # 20 x 384 x 384
    python benchmarks/volumetric_memory.py --shape 8 128 128
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
import convpaint

z, y, x = map(int, sys.argv[1:4])
rng = np.random.default_rng(0)
vol = rng.normal(60, 15, (z, y, x))
vol[z // 4 : 3 * z // 4, y // 4 : 3 * y // 4, x // 4 : 3 * x // 4] += 80
vol = np.clip(vol, 0, 255).astype(np.uint8)
ann = np.zeros(vol.shape, np.uint8)
ann[z // 2, 2:6, 2 : x - 2] = 1
ann[z // 2, y // 2 - 2 : y // 2 + 2, x // 3 : 2 * x // 3] = 2
model = convpaint.ConvpaintModel("ilastik", volumetric=True, n_estimators=50)
t0 = time.perf_counter()
model.train(vol, ann, axes="ZYX")
t1 = time.perf_counter()
labels = model.segment(vol, axes="ZYX")
t2 = time.perf_counter()
inside = labels[z // 4 : 3 * z // 4, y // 4 : 3 * y // 4, x // 4 : 3 * x // 4]
print(json.dumps({
    "shape": [z, y, x], "train_s": round(t1 - t0, 1), "segment_s": round(t2 - t1, 1),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    "tile": model.plan((y, x), training=False, depth=z).grid.tile, "workers": model.workers,
    "object_recall": round(float(np.mean(inside == 2)), 3),
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape", type=int, nargs=3, default=(20, 384, 384), metavar=("Z", "Y", "X")
    )
    args = parser.parse_args()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, args.shape)],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        sys.exit(f"child failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
