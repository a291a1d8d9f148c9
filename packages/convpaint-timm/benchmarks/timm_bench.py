"""Speed and tiling of the convpaint-timm extractors (random weights); prints markdown tables.

python packages/convpaint-timm/benchmarks/timm_bench.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from skimage import data

from convpaint_timm import ConvNeXtTinyFeatures, EfficientNetB0Features

CASES = [
    (EfficientNetB0Features, None),
    (ConvNeXtTinyFeatures, None),
    (ConvNeXtTinyFeatures, [0, 1]),
]


def build(cls, layers):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return cls(weights="random", layers=layers, device="cpu")


def speed() -> None:
    rng = np.random.default_rng(0)
    plane = rng.standard_normal((3, 1024, 1024)).astype(np.float32)
    print("| extractor | layers | features | padding | parameters | `extract` 1024 x 1024 |")
    print("|---|---|---|---|---|---|")
    for cls, layers in CASES:
        ex = build(cls, layers)
        ex.extract(plane[:, :256, :256])  # first call: allocator and oneDNN set-up
        start = time.perf_counter()
        ex.extract(plane)
        took = time.perf_counter() - start
        print(
            f"| `{ex.name}` | {ex.layers} | {ex.n_features} | {ex.padding} | "
            f"{ex.n_parameters:,} | {took:.1f} s |"
        )


def tiling(size: int = 512, tile: int = 256) -> None:
    """2 x 2 tiles of ``tile``² plus halo against one pass over the reflect-padded image."""
    rgb = data.astronaut()[:size, :size].astype(np.float32) / 255
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    plane = ((rgb - mean) / std).transpose(2, 0, 1).astype(np.float32)
    print("\n| extractor | layers | mean abs(tiled - untiled) / std | max |")
    print("|---|---|---|---|")
    for cls, layers in CASES[:2]:
        ex = build(cls, layers)
        h = ex.padding
        padded = np.pad(plane, ((0, 0), (h, h), (h, h)), mode="reflect")
        ref = ex.extract(padded)[:, h:-h, h:-h]
        tiled = np.empty_like(ref)
        for y in range(0, size, tile):
            for x in range(0, size, tile):
                part = padded[:, y : y + tile + 2 * h, x : x + tile + 2 * h]
                tiled[:, y : y + tile, x : x + tile] = ex.extract(part)[:, h:-h, h:-h]
        rel = np.abs(tiled - ref) / (ref.std(axis=(1, 2), keepdims=True) + 1e-12)
        print(f"| `{ex.name}` | {ex.layers} | {rel.mean():.3g} | {rel.max():.3g} |")


if __name__ == "__main__":
    speed()
    tiling()
