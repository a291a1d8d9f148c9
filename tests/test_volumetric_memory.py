"""Peak memory of a volumetric run (issue 9): tiles sized by the bytes of a (Z, tile, tile)
block and the 3-D filters' working set, Z featurised in slabs, halos never held as features.

Before the fix, a 4 x 64 x 64 volume with the default ilastik bank peaked at 6 GB."""

from __future__ import annotations

import json
import subprocess
import sys

from extractor_checks import require

CHILD = r"""
import json, resource, sys
import numpy as np
import convpaint
from convpaint.volume import VOLUME_TILE_BYTES

z, y, x = map(int, sys.argv[1:4])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
rng = np.random.default_rng(0)
vol = rng.normal(60, 15, (z, y, x))
vol[2 : z - 2, y // 4 : 3 * y // 4, x // 4 : 3 * x // 4] += 80
vol = np.clip(vol, 0, 255).astype(np.uint8)
ann = np.zeros(vol.shape, np.uint8)
ann[z // 2, 1:4, 2 : x - 2] = 1
ann[z // 2, y // 2 - 2 : y // 2 + 2, x // 3 : 2 * x // 3] = 2
# sigma 10 sets the halos (51 px, 50 planes), the largest of the default bank
model = convpaint.ConvpaintModel(
    "ilastik", volumetric=True, sigmas=(1.0, 10.0), n_estimators=10, workers=1
)
labels = model.train(vol, ann, axes="ZYX").segment(vol, axes="ZYX")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"base": base, "peak": peak, "n_features": model.n_features_,
                  "tile_budget": VOLUME_TILE_BYTES,
                  "inside": float(np.mean(labels[3 : z - 3, y // 3 : 2 * y // 3, x // 3 : 2 * x // 3] == 2)),
                  "outside": float(np.mean(labels[:, :8] == 1))}))
"""


def test_volumetric_train_and_segment_peak_memory():
    require("ilastik")
    shape = (8, 64, 64)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, shape)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    voxels = shape[0] * shape[1] * shape[2]
    # all features of the volume (float32), a few times over, plus one tile's budget
    bound = 4 * 4 * r["n_features"] * voxels + r["tile_budget"]
    used = r["peak"] - r["base"]
    assert used < bound, f"peak grew by {used / 2**20:.0f} MiB, bound {bound / 2**20:.0f} MiB"
    assert r["inside"] > 0.9 and r["outside"] > 0.9  # and it still segments
