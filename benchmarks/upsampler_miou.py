"""mIoU of a ViT extractor with bilinear vs image-guided upsampling of its patch features.

    python benchmarks/upsampler_miou.py DATASET [--modalities fluorescence_gray:4]
        [--extractor dinov2] [--option weights=random] [--coverage 0.05] [--crop 256]
        [--upsampler guided --upsampler guided:eps=0.1 ...]

For every image (its top-left ``crop`` x ``crop`` px) scribbles are generated from the
ground truth (:func:`convpaint.scribbles.generate_scribbles`, seeded per image), a model
is trained per upsampler ("bilinear": none) on the same scribbles and its segmentation
scored against the truth.  Prints the mean IoU per modality and upsampler as markdown.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections import defaultdict

import numpy as np


def parse_run(text: str) -> tuple[str, str | None, dict]:
    """``guided:eps=0.1,radius=2`` -> (label, name, options); ``bilinear`` -> no upsampler."""
    name, _, opts = text.partition(":")
    options = {}
    for pair in filter(None, opts.split(",")):
        key, _, value = pair.partition("=")
        options[key] = json.loads(value) if value[:1].isdigit() or value[:1] in "-[" else value
    return text, (None if name == "bilinear" else name), options


def main() -> None:
    import convpaint
    from convpaint.evaluation import metrics
    from convpaint.evaluation.datasets import open_dataset
    from convpaint.scribbles import generate_scribbles

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--modalities", default="fluorescence_gray:4,HE_histology_rgb:4")
    parser.add_argument("--extractor", default="dinov2")
    parser.add_argument("--option", action="append", default=["weights=random"])
    parser.add_argument("--coverage", type=float, default=0.05)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--upsampler", action="append", default=None)
    args = parser.parse_args()
    runs = [parse_run(t) for t in ["bilinear", *(args.upsampler or ["guided"])]]
    options = dict(p.partition("=")[::2] for p in args.option)
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    seconds: dict[str, float] = defaultdict(float)
    dataset = open_dataset(args.dataset, args.modalities)
    for i, sample in enumerate(dataset):
        image, truth, _ = sample.load("semantic")
        image = image[: args.crop, : args.crop]
        truth = truth[: args.crop, : args.crop]
        scribbles = generate_scribbles(truth, args.coverage, seed=i)
        for label, name, up_options in runs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # random weights
                model = convpaint.ConvpaintModel(
                    args.extractor,
                    upsampler=name,
                    upsampler_options=up_options or None,
                    progress=False,
                    **options,
                )
                start = time.perf_counter()
                pred = model.train(image, scribbles).segment(image)
                seconds[label] += time.perf_counter() - start
            scores[(sample.modality, label)].append(metrics.mean_iou(truth + 1, pred))
    print(f"{args.extractor} {options}, coverage {args.coverage}, {args.crop} px crops\n")
    print("| modality | " + " | ".join(r[0] for r in runs) + " |")
    print("|---" * (len(runs) + 1) + "|")
    for modality in sorted({m for m, _ in scores}):
        cells = [f"{np.mean(scores[(modality, r[0])]):.3f}" for r in runs]
        n = len(scores[(modality, runs[0][0])])
        print(f"| {modality} ({n}) | " + " | ".join(cells) + " |")
    print("| train + segment s | " + " | ".join(f"{seconds[r[0]]:.1f}" for r in runs) + " |")


if __name__ == "__main__":
    main()
