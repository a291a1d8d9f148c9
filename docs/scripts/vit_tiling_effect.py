"""How much does tiling change a ViT extractor's features and segmentation?

ViTs attend globally, so a pixel's features depend on the whole tile it is computed
in.  This script computes features of one real image untiled (a single tile) and
with several (tile size, halo) settings, trains one random forest on the untiled
features at generated scribbles, and reports for every setting

* the relative feature error ||f_tiled - f||/||f|| per pixel (median, 99th percentile),
* the fraction of pixels whose label changes and the largest probability change,

when the same classifier is applied to the tiled features.  Pretrained weights
cannot be downloaded in the development environment, so it runs with
``weights="random"`` unless ``--weights`` is given.

    python docs/scripts/vit_tiling_effect.py --extractor dinov2 --image 023
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import tifffile
from sklearn.ensemble import RandomForestClassifier

from convpaint import ConvpaintModel, get_extractor
from convpaint.scribbles import generate_scribbles, instances_to_semantic

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "dsb2018_stage1_train"


def features(extractor, image, tile: int, padding: int) -> tuple[np.ndarray, float]:
    extractor.padding = padding  # instance attribute: read by the core's pipeline
    model = ConvpaintModel(extractor, tile_size=tile)
    start = time.perf_counter()
    feats = model.compute_features(image)
    return feats, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extractor", default="dinov2")
    parser.add_argument("--image", default="023", help="DSB index (1024x1024 brightfield)")
    parser.add_argument("--weights", default="random")
    parser.add_argument("--configs", default="518:0,518:28,518:56,518:112,252:56,1022:56")
    args = parser.parse_args()

    image = iio.imread(DATA / "images" / f"{args.image}.png")
    image = image[..., :3] if image.ndim == 3 else image
    image = image if image.ndim == 2 or np.ptp(image[..., 0] - image[..., 1]) else image[..., 0]
    truth = instances_to_semantic(tifffile.imread(DATA / "masks" / f"{args.image}.tif"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        extractor = get_extractor(args.extractor, weights=args.weights)
    default_padding = type(extractor).padding
    big = -(-max(image.shape[:2]) // 16) * 16  # one tile covers the image
    ref, seconds = features(extractor, image, big, default_padding)
    print(f"{args.extractor} ({args.weights} weights), image {args.image} {image.shape}")
    print(f"untiled: {ref.shape[0]} features in {seconds:.1f} s")

    scribbles = generate_scribbles(truth, coverage=0.01, seed=0)
    sel = scribbles > 0
    rf = RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=0)
    rf.fit(ref[:, sel].T, scribbles[sel])

    def predict(f: np.ndarray) -> np.ndarray:
        return rf.predict_proba(f.reshape(f.shape[0], -1).T)

    p_ref = predict(ref)
    norm = np.linalg.norm(ref, axis=0) + 1e-12
    print(
        "| tile | halo (padding) | rel. feature error median / p99 | labels changed | max |dp| | time |"
    )
    print("|---|---|---|---|---|---|")
    for config in args.configs.split(","):
        tile, padding = (int(v) for v in config.split(":"))
        feats, seconds = features(extractor, image, tile, padding)
        err = np.linalg.norm(feats - ref, axis=0) / norm
        p = predict(feats)
        changed = np.mean(p.argmax(1) != p_ref.argmax(1))
        print(
            f"| {tile} | {padding} | {np.median(err):.4f} / {np.percentile(err, 99):.4f} "
            f"| {100 * changed:.2f} % | {np.abs(p - p_ref).max():.2f} | {seconds:.1f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
