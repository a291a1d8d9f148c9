"""Time per MPix of the feature upsamplers against bilinear interpolation.

    python benchmarks/upsampler_speed.py [--features 384] [--patch 14] [--edge 1022]
        [--repeats 3] [--segment 518]

1. The upsampling step alone on one block of ``edge`` x ``edge`` px with ``features``
   patch features (384: DINOv2 ViT-S): bilinear (the pyramid's), ``guided`` with a gray
   and an RGB guide, and ``guided`` without numba (the NumPy path).
2. With ``--segment N``: ``ConvpaintModel("dinov2", weights="random")`` trained and
   segmenting an N x N image with and without ``upsampler="guided"`` (random weights: the
   time, not the quality, is the point).

Medians of ``repeats`` runs, interleaved; prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def _median(fn, repeats: int) -> float:
    fn()  # warm-up: kernels compiled, caches filled
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def step_times(features: int, patch: int, edge: int, repeats: int) -> list[tuple[str, float]]:
    from convpaint import builtin_upsamplers
    from convpaint.builtin_upsamplers import GuidedUpsampler
    from convpaint.pyramid import upsample

    rng = np.random.default_rng(0)
    cells = edge // patch
    f = rng.normal(size=(features, cells, cells)).astype(np.float32)
    gray = rng.normal(size=(1, cells * patch, cells * patch)).astype(np.float32)
    rgb = rng.normal(size=(3, cells * patch, cells * patch)).astype(np.float32)
    mpix = (cells * patch) ** 2 / 1e6
    gray_up, rgb_up = GuidedUpsampler(), GuidedUpsampler(guide="rgb")
    runs = {
        "bilinear": lambda: upsample(f, patch),
        "guided (gray guide)": lambda: gray_up.upsample(f, gray, patch),
        "guided (rgb guide)": lambda: rgb_up.upsample(f, rgb, patch),
    }
    kernel = builtin_upsamplers._kernel
    builtin_upsamplers._kernel = lambda: None  # type: ignore[assignment]
    try:
        numpy_path = _median(lambda: gray_up.upsample(f, gray, patch), repeats)
    finally:
        builtin_upsamplers._kernel = kernel  # type: ignore[assignment]
    out = [(name, _median(fn, repeats) / mpix) for name, fn in runs.items()]
    return [*out, ("guided (gray, NumPy path)", numpy_path / mpix)]


def segment_times(edge: int, repeats: int) -> list[tuple[str, float, float]]:
    import warnings

    import convpaint

    rng = np.random.default_rng(1)
    image = rng.random((edge, edge), dtype=np.float32)
    ann = np.zeros(image.shape, np.uint8)
    ann[10, 10:-10], ann[-10, 10:-10] = 1, 2
    mpix = edge * edge / 1e6
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random weights
        for up in (None, "guided"):
            model = convpaint.ConvpaintModel("dinov2", weights="random", upsampler=up)

            def train(model=model):
                model.feature_cache.clear()
                model.train(image, ann)

            def segment(model=model):
                model.feature_cache.clear()
                model.segment(image)

            t_train = _median(train, repeats)
            t_segment = _median(segment, repeats)
            rows.append((up or "bilinear", t_train, t_segment / mpix))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=384)
    parser.add_argument("--patch", type=int, default=14)
    parser.add_argument("--edge", type=int, default=1022)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--segment", type=int, default=0, help="image edge for dinov2 runs")
    args = parser.parse_args()
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    print(f"\n{args.features} features, {args.patch}-px patches, {args.edge} px block\n")
    print("| upsampling step | s / MPix |\n|---|---|")
    for name, t in step_times(args.features, args.patch, args.edge, args.repeats):
        print(f"| {name} | {t:.2f} |")
    if args.segment:
        print(f"\ndinov2 (random weights), {args.segment}^2 image\n")
        print("| upsampler | train s | segment s / MPix |\n|---|---|---|")
        for name, t_train, t_seg in segment_times(args.segment, args.repeats):
            print(f"| {name} | {t_train:.2f} | {t_seg:.2f} |")


if __name__ == "__main__":
    main()
