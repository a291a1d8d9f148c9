"""3-D multi-projection vs single-plane features (paper fig. 2K / S4).

    nice python benchmarks/projections.py --markdown docs/results/projections.md

Synthetic 3-D cells (random ellipsoids, blurred more along Z than in XY, Gaussian
noise at several signal-to-noise ratios) and StarDist's synthetic ``img3d.tif``
(skipped when ``/work/shared/data`` or ``$CONVPAINT_DATA`` lacks it).  Scribbles:
dotted lines from the ground truth on two planes only; foreground IoU over all
voxels.  Every model is ``ilastik`` with the same filters and sigmas and 100 trees;
rows differ only in ``projections`` (and one row of true 3-D filters,
``volumetric=True``, for reference).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

SIGMAS = (0.7, 1.6, 3.5)
SNRS = (0.5, 1.0, 2.0, 4.0)
MODES = {
    "xy (single plane)": {"projections": ("xy",)},
    "xy+xz+yz": {"projections": ("xy", "xz", "yz")},
    "3-D filters (volumetric)": {"volumetric": True},
}


def cells(shape=(24, 96, 96), n=18, seed=0):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape)
    truth = np.zeros(shape, bool)
    for _ in range(n):
        c = rng.uniform((3, 8, 8), np.array(shape) - (3, 8, 8))
        r = rng.uniform((3, 6, 6), (5, 11, 11))
        truth |= ((zz - c[0]) / r[0]) ** 2 + ((yy - c[1]) / r[1]) ** 2 + (
            (xx - c[2]) / r[2]
        ) ** 2 < 1
    clean = ndimage.gaussian_filter(truth.astype(np.float32), (2.0, 1.0, 1.0))
    return clean, truth


def scribbles(truth: np.ndarray, planes: tuple[int, ...], step: int = 6) -> np.ndarray:
    ann = np.zeros(truth.shape, np.uint8)
    for z in planes:
        for y in range(step // 2, truth.shape[1], step):
            ann[z, y, ::2] = np.where(truth[z, y, ::2], 2, 1)
    return ann


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    return float((pred & truth).sum() / max(1, (pred | truth).sum()))


def evaluate(image, truth, planes, mode_kwargs) -> tuple[float, float]:
    import convpaint

    ann = scribbles(truth, planes)
    model = convpaint.ConvpaintModel("ilastik", sigmas=SIGMAS, progress=False, **mode_kwargs)
    t0 = time.perf_counter()
    model.train(image, ann, axes="ZYX")
    labels = model.segment(image, axes="ZYX")
    return iou(labels == 2, truth), time.perf_counter() - t0


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--markdown", help="write the table here")
    args = p.parse_args(argv)
    rows = []
    clean, truth = cells()
    rng = np.random.default_rng(1)
    for snr in SNRS:
        image = (clean + rng.normal(0, 1 / snr, clean.shape)).astype(np.float32)
        rows.append((f"synthetic cells, SNR {snr:g}", image, truth, (7, 16)))
    data = Path(os.environ.get("CONVPAINT_DATA", "/work/shared/data")) / "stardist_bundled"
    if (data / "img3d.tif").is_file():
        import tifffile

        img = tifffile.imread(data / "img3d.tif")
        mask = tifffile.imread(data / "mask3d.tif") > 0
        rows.append(("StarDist img3d.tif (31x61x57)", img, mask, (10, 20)))
    lines = ["| data | " + " | ".join(MODES) + " |", "|---" * (len(MODES) + 1) + "|"]
    for name, image, gt, planes in rows:
        cells_ = []
        for kwargs in MODES.values():
            score, secs = evaluate(image, gt, planes, kwargs)
            cells_.append(f"{score:.3f} ({secs:.1f} s)")
        lines.append(f"| {name} | " + " | ".join(cells_) + " |")
        print(lines[-1], flush=True)
    table = "\n".join(lines)
    if args.markdown:
        Path(args.markdown).write_text(
            "# Multi-projection features: foreground IoU (train + segment time)\n\n"
            f"Command: `nice python benchmarks/projections.py --markdown {args.markdown}`; "
            f"ilastik sigmas {SIGMAS}, scribbles on two planes. See the script's docstring.\n\n"
            + table
            + "\n"
        )


if __name__ == "__main__":
    main()
