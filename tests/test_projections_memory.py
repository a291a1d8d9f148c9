"""Bounded memory of multi-projection features (issue 15 item 5).

Before the fix a volume tile went through the 2-D extractor on every plane of the block
*with its Z context* (``padding`` planes on both ends) along all three families, every
family's features were stacked whole, then concatenated: a 6 x 48 x 48 stack with
sigma 10 grew the process by ~1 GB (20 x 128 x 128 with the default bank: 9.6 GB).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc

import numpy as np
from extractor_checks import require

import convpaint
from convpaint.volume import tile_bytes

CHILD = r"""
import json, resource, sys
import numpy as np
import convpaint

z, y, x = map(int, sys.argv[1:4])
rng = np.random.default_rng(0)
vol = rng.normal(60, 15, (z, y, x))
vol[1 : z - 1, y // 4 : 3 * y // 4, x // 4 : 3 * x // 4] += 80
vol = np.clip(vol, 0, 255).astype(np.uint8)
ann = np.zeros(vol.shape, np.uint8)
for k in (1, z // 2, z - 2):
    ann[k, 1:4, 2 : x - 2] = 1
    ann[k, y // 2 - 2 : y // 2 + 2, x // 3 : 2 * x // 3] = 2
opts = dict(sigmas=(1.0, 10.0), n_estimators=10, workers=1)
# warm up (imports, compiled kernels) on a plane, so that the peak below is the model's
convpaint.ConvpaintModel("ilastik", **opts).train(vol[z // 2], ann[z // 2]).segment(vol[z // 2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
# sigma 10 sets the halos (51 px in Y and X, 50 planes of Z context)
model = convpaint.ConvpaintModel("ilastik", projections=("xy", "xz", "yz"), **opts)
labels = model.train(vol, ann, axes="ZYX").segment(vol, axes="ZYX")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
inside = labels[2 : z - 2, y // 3 : 2 * y // 3, x // 3 : 2 * x // 3]
print(json.dumps({"base": base, "peak": peak, "n_features": model.n_features_,
                  "inside": float(np.mean(inside == 2)), "outside": float(np.mean(labels[:, :6] == 1))}))
"""


def test_three_projections_peak_memory():
    require("ilastik")
    shape = (6, 48, 48)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, shape)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["n_features"] == 3 * 16
    # the features of the whole volume a few times over, the padded block's input planes
    # (6 + 2 x 50 planes of 158 x 158 px, a few copies) and 64 MiB for the forest and the rest
    voxels = shape[0] * shape[1] * shape[2]
    bound = 4 * 4 * r["n_features"] * voxels + 3 * 4 * 106 * 158**2 + 64 * 2**20
    used = r["peak"] - r["base"]
    assert used < bound, f"peak grew by {used / 2**20:.0f} MiB, bound {bound / 2**20:.0f} MiB"
    assert r["inside"] > 0.9 and r["outside"] > 0.9  # and it still segments


def test_projection_block_within_its_estimate():
    """tile_bytes(planewise=True), the estimate the tile size and the guard use, bounds the
    bytes allocated while featurising one block (and is not a gross overestimate)."""
    require("ilastik")
    model = convpaint.ConvpaintModel(
        "ilastik", projections=("xy", "xz", "yz"), sigmas=(1.0, 3.5), coarse_to_fine=1
    )
    p = model.pipeline
    tile, depth = 40, 8
    block = np.random.default_rng(0).random((1, depth, tile + 2 * p.halo, tile + 2 * p.halo))
    block = block.astype(np.float32)
    tracemalloc.start()
    try:
        feats = p.block_features(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    n = feats.shape[0]
    assert feats.shape == (n, depth, tile, tile) and n == 3 * 16
    estimate = tile_bytes(tile, depth, n, p.halo, 0, p.zpad, planewise=True)
    assert peak <= estimate, f"{peak / 2**20:.1f} MiB allocated, estimated {estimate / 2**20:.1f}"
    assert peak >= estimate / 4, (
        f"{peak / 2**20:.1f} MiB allocated, estimated {estimate / 2**20:.1f}"
    )


def test_projection_tiles_budgeted_plane_by_plane():
    """A plane-by-plane block is budgeted without the 3-D filters' slab working set, so a
    20 x 128 x 128 stack with 3 x 56 ilastik features fits in one tile."""
    from convpaint.volume import PROJECTION_TILE_BYTES, volume_tile

    args = (20, 3 * 56, 51, 4, 50, 1)
    assert volume_tile(*args, planewise=True) >= 128
    assert volume_tile(*args, planewise=True) > volume_tile(*args)
    assert tile_bytes(128, 20, 3 * 56, 51, 4, 50, planewise=True) <= PROJECTION_TILE_BYTES
