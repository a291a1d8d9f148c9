"""Coarse-to-fine prediction: agreement with classifying every pixel, and the time it saves.

    python benchmarks/coarse_to_fine.py [--data ../shared/data/dsb2018_stage1_train] \
        [--images 8] [--stride 4] [--extractor ilastik --extractor vgg16]

For every image: train once (scribbles generated from the ground truth, 1 %
coverage, seed 0), segment with ``coarse_to_fine=1`` and ``=stride``, report
the share of pixels with the same label (agreement), the mIoU of both against
the ground truth and the segment times (medians of ``--repeat``).  Images: the
synthetic 2048² noisy disks of bench.py, and DSB 2018 fluorescence (gray) and
H&E (RGB) images when the dataset is there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench import make_data  # noqa: E402


def cases(data: Path | None, n_images: int):
    image, truth, ann = make_data(2048)
    yield "synthetic 2048² (gray)", image, truth - 1, ann  # labels 1, 2 -> classes 0, 1
    if data is None or not data.is_dir():
        return
    from convpaint.evaluation.datasets import open_dataset
    from convpaint.scribbles import generate_scribbles

    for modality in ("fluorescence_gray", "HE_histology_rgb"):
        for item in open_dataset(data, modalities=f"{modality}:{n_images}"):
            image, mask, _ = item.load(masks="instance")
            truth = (mask > 0).astype(np.uint8)
            ann = generate_scribbles(truth, coverage=0.01, seed=0)  # class k -> label k + 1
            yield f"DSB {item.name} ({modality})", image, truth, ann


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main(argv=None) -> int:
    import convpaint
    from convpaint import prediction
    from convpaint.evaluation.metrics import mean_iou

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data/dsb2018_stage1_train"))
    p.add_argument("--images", type=int, default=8, help="DSB images per modality")
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--extractor", action="append")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    extractors = args.extractor or ["ilastik", "vgg16"]
    options = {"vgg16": {"weights": "random"}}
    print("| extractor | image | agreement % | refined % | mIoU full | mIoU c2f | full s | c2f s |")
    print("|---|---|---|---|---|---|---|---|")
    worst = 100.0
    for name in extractors:
        for label, image, truth, ann in cases(args.data, args.images):
            kw = dict(progress=False, cache_bytes=0, **options.get(name, {}))
            full = convpaint.ConvpaintModel(name, coarse_to_fine=1, **kw).train(image, ann)
            fast = convpaint.ConvpaintModel(name, coarse_to_fine=args.stride, **kw)
            fast.classifier, fast.classes_ = full.classifier, full.classes_
            fast.n_features_, fast.n_channels_, fast.axes_ = (
                full.n_features_,
                full.n_channels_,
                full.axes_,
            )
            a, ta = timed(lambda m=full, x=image: m.segment(x), args.repeat)
            counted = []
            original = prediction.predict_proba_in_chunks

            def counting(clf, x, original=original, counted=counted):
                counted.append(len(x))
                return original(clf, x)

            prediction.predict_proba_in_chunks = counting
            try:
                b, tb = timed(lambda m=fast, x=image: m.segment(x), args.repeat)
            finally:
                prediction.predict_proba_in_chunks = original
            refined = 100 * sum(counted) / args.repeat / a.size
            agree = 100 * float(np.mean(a == b))
            worst = min(worst, agree)
            miou_a = mean_iou(truth, a.astype(np.int64) - 1)
            miou_b = mean_iou(truth, b.astype(np.int64) - 1)
            print(
                f"| {name} | {label} | {agree:.3f} | {refined:.1f} | {miou_a:.4f} | "
                f"{miou_b:.4f} | {ta:.2f} | {tb:.2f} |",
                flush=True,
            )
    print(f"\nworst agreement: {worst:.3f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
