"""CPU cost of the ``cellpose`` extractor in float32 and bfloat16, and how far bfloat16 drifts.

Runs :meth:`Cellpose.extract` on crops of a real image (``img2d.tif``, 512x512
fluorescence) and reports wall and CPU seconds per plane and the relative error
``||f_bf16 - f_fp32|| / ||f_fp32||`` of the encoder features and of the output
maps.  Uses ``weights="random"`` unless ``--weights`` is given (no download here).

    python docs/scripts/cellpose_cpu_timing.py --sizes 256 512
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import tifffile
import torch

from convpaint_cellpose import Cellpose
from convpaint_cellpose.windows import windows

IMAGE = Path(__file__).resolve().parents[3] / "shared" / "data" / "stardist_bundled" / "img2d.tif"


def timed(extractor: Cellpose, plane: np.ndarray) -> tuple[np.ndarray, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    feats = extractor.extract(plane)
    return feats, time.perf_counter() - wall, time.process_time() - cpu


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--weights", default="random")
    args = parser.parse_args()

    image = tifffile.imread(IMAGE).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fp32 = Cellpose(weights=args.weights)
        bf16 = Cellpose(weights=args.weights, precision="bfloat16")
    start = time.perf_counter()
    n_params = sum(p.numel() for p in fp32.network.parameters())
    print(
        f"cellpose-SAM: {n_params / 1e6:.1f} M parameters, built in {time.perf_counter() - start:.1f} s"
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, weights={args.weights}")
    print("| plane | windows | fp32 wall / CPU | bf16 wall / CPU | rel. error encoder / outputs |")
    print("|---|---|---|---|---|")
    timed(fp32, np.repeat(image[None, :256, :256], 3, axis=0))  # warm-up
    for size in args.sizes:
        plane = np.repeat(image[None, :size, :size], 3, axis=0)  # gray, as the core hands it over
        f32, w32, c32 = timed(fp32, plane)
        f16, w16, c16 = timed(bf16, plane)
        n = len(list(windows((size, size), 256)))
        print(
            f"| {size}x{size} | {n} | {w32:.1f} s / {c32:.1f} s | {w16:.1f} s / {c16:.1f} s "
            f"| {rel(f16[:256], f32[:256]):.4f} / {rel(f16[256:], f32[256:]):.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
