"""Time the scipy and fastfilters2 backends and report their largest difference.

Usage: python scripts/benchmark.py [SIZE] [REPEATS]   (default 2048 x 2048, best of 2)
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy import ndimage

from convpaint_ilastik import IlastikFilters, fast


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((size, size)).astype(np.float32)
    plane = (noise + 4 * ndimage.gaussian_filter(noise, 2.0))[None].astype(np.float32)
    backends = ["scipy"] + (["fastfilters"] if fast.available() else [])
    out = {}
    for backend in backends:
        ex = IlastikFilters(backend=backend)
        wall, cpu = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            out[backend] = ex.extract(plane)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        n = len(ex.feature_names)
        print(
            f"{backend:12s} {size}x{size}, {n} features: wall {min(wall):.2f} s, cpu {min(cpu):.2f} s"
        )
    if len(out) == 2:
        diff = np.abs(out["scipy"] - out["fastfilters"]).max(axis=(1, 2))
        scale = np.abs(out["scipy"]).max(axis=(1, 2))
        for name, d, s in zip(ex.feature_names, diff, scale, strict=True):
            print(f"  {name:45s} max|diff| {d:.2e}  (max|value| {s:.2e})")


if __name__ == "__main__":
    main()
