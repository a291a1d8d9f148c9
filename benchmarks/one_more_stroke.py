"""``train()`` after one more stroke, and the view's segmentation, through the API (issue 18).

    python benchmarks/one_more_stroke.py [--painted 10000] [--strokes 8] [-e ilastik -e vgg16]

The image: DSB 2018 image 532 (fluorescence, 603 x 1272) mirror-padded to 1040 x 1388
(1.44 MPix, the size of DSB's largest frames; ``--synthetic``: generated blobs).  Strokes
within one class of the ground truth (background: 5 px wide, 21 px long; nuclei: 5 x 5 dabs;
alternating), are painted until
``--painted`` pixels are scribbled; the model is trained once (the feature cache filled,
as while painting).  Then each of ``--strokes`` strokes is added and timed: ``train``
(the full forest, 100 trees) and ``segment(image, region=view)`` of a centred 1 MPix view
(``--view``).  Medians and worst over the strokes; the default classifier and workers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def _dabs(mask: np.ndarray, n: int, seed: int) -> list:
    """``n`` 5 x 5 dabs (row, col index arrays) centred inside nuclei, labelled 2."""
    from scipy.ndimage import binary_erosion

    rng = np.random.default_rng(seed)
    ys, xs = np.nonzero(binary_erosion(mask > 0, iterations=2))
    pick = rng.choice(ys.size, n, replace=ys.size < n)
    d = np.arange(-2, 3)
    return [((np.repeat(ys[i] + d, 5), np.tile(xs[i] + d, 5)), 2) for i in pick]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--painted", type=int, default=10000)
    p.add_argument("--strokes", type=int, default=8)
    p.add_argument("-e", "--extractor", action="append")
    p.add_argument("--view", type=int, default=1024, help="edge of the segmented view")
    p.add_argument("--synthetic", action="store_true")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")

    from compare_napari_convpaint import load_case
    from napari_live import strokes

    import convpaint

    image, mask, desc = load_case("gray", None, args.synthetic)
    pad = ((0, max(0, 1040 - image.shape[0])), (0, max(0, 1388 - image.shape[1])))
    image = np.pad(image, pad, mode="reflect")[:1040, :1388]
    mask = np.pad(mask, pad, mode="reflect")[:1040, :1388]
    reference = mask + 1  # class 1 background, 2 nuclei
    h, w = image.shape
    v = min(args.view, h, w)
    view = (slice((h - v) // 2, (h + v) // 2), slice((w - v) // 2, (w + v) // 2))
    bounds = ((10, h - 10), (10, w - 10))  # strokes and their brush stay inside
    # background: strokes 21 px long; nuclei are small (4 % of the pixels): 5 x 5 dabs
    pool = strokes(reference, 600, 5, 21, bounds, seed=1, first_two=False)
    by_class = [[s for s in pool if s[1] == 1], _dabs(mask, 600, seed=2)]
    # alternate the classes, as a user paints (nuclei strokes are the rarer ones)
    alternating = [s for pair in zip(*by_class, strict=False) for s in pair]
    print(f"{desc}, padded to {h} x {w} ({h * w / 1e6:.2f} MPix), view {v} x {v}")
    print("| extractor | painted before | train s median / worst | segment view s median / worst |")
    print("|---|---|---|---|")
    for name in args.extractor or ["ilastik", "vgg16"]:
        opts = {"weights": "random"} if name == "vgg16" else {}
        ann = np.zeros(image.shape, np.uint8)
        it = iter(alternating)
        while np.count_nonzero(ann) < args.painted:
            (ys, xs), label = next(it)
            ann[ys, xs] = label
        before = int(np.count_nonzero(ann))
        model = convpaint.ConvpaintModel(name, progress=False, **opts).train(image, ann)
        model.segment(image, region=view)  # the view's features cached, kernels warm
        trains, segments = [], []
        for _ in range(args.strokes):
            (ys, xs), label = next(it)
            ann[ys, xs] = label
            t0 = time.perf_counter()
            model.train(image, ann)
            t1 = time.perf_counter()
            model.segment(image, region=view)
            t2 = time.perf_counter()
            trains.append(t1 - t0)
            segments.append(t2 - t1)
        print(
            f"| {name} | {before} px | {statistics.median(trains):.3f} / {max(trains):.3f} "
            f"| {statistics.median(segments):.3f} / {max(segments):.3f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
