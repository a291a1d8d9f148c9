"""Training from scratch on an 11-class RGB image of 360 x 480 with ~1 % of its pixels scribbled.

    python benchmarks/train_multiclass.py [--repeat 5] [-e ilastik -e vgg16]

The image is synthetic (the size and class count of a street-scene frame): a Voronoi
partition into 11 classes, each with its own colour and texture, plus noise.  Scribbles
come from :func:`convpaint.scribbles.generate_scribbles` (seed 0).  Every run builds a
fresh model (empty feature cache) and times ``train``: features of the annotated tiles,
then the forest fit.  The table gives the median of ``--repeat`` runs and, timed apart
(cache cleared), the feature part (collecting the annotated pixels' features).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np


def make_scene(seed: int = 0, shape=(360, 480), n_classes: int = 11):
    """(RGB uint8 image, labels 1..n_classes)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    centres = rng.uniform((0, 0), shape, size=(3 * n_classes, 2))
    nearest = np.argmin(
        (yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2, axis=-1
    )
    labels = (nearest % n_classes + 1).astype(np.uint8)
    colours = rng.uniform(40, 215, size=(n_classes + 1, 3))
    freq = rng.uniform(0.05, 0.6, size=n_classes + 1)
    texture = 25 * np.sin(freq[labels] * xx + 0.7 * freq[labels] * yy)
    image = colours[labels] + texture[..., None] + rng.normal(0, 12, (*shape, 3))
    return np.clip(image, 0, 255).astype(np.uint8), labels


def main(argv=None) -> int:
    import convpaint
    from convpaint.scribbles import generate_scribbles

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("-e", "--extractor", action="append")
    p.add_argument("--coverage", type=float, default=0.01)
    args = p.parse_args(argv)
    image, labels = make_scene()
    scribbles = generate_scribbles(labels, args.coverage, seed=0)
    n_px = int((scribbles > 0).sum())
    print(
        f"11-class RGB {image.shape[0]}x{image.shape[1]}, {n_px} scribbled pixels "
        f"({100 * n_px / scribbles.size:.2f} %), classes {len(np.unique(scribbles)) - 1}"
    )
    print("| extractor | features | train s (median) | of which features s | forest fit s |")
    print("|---|---|---|---|---|")
    for name in args.extractor or ["ilastik", "vgg16"]:
        opts = {"weights": "random"} if name == "vgg16" else {}
        totals, feats = [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            convpaint.ConvpaintModel(name, progress=False, **opts).train(image, scribbles)  # warm
            for _ in range(args.repeat):
                model = convpaint.ConvpaintModel(name, progress=False, **opts)
                t0 = time.perf_counter()
                model.train(image, scribbles)
                totals.append(time.perf_counter() - t0)
                model.feature_cache.clear()
                t0 = time.perf_counter()
                model.training_samples(image, scribbles)
                feats.append(time.perf_counter() - t0)
        total, feat = statistics.median(totals), statistics.median(feats)
        print(
            f"| {name} | {model.n_features_} | {total:.2f} | {feat:.2f} | {total - feat:.2f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
