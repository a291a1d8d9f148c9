"""Where segment() time goes: features vs forest, per extractor and image kind.

    python benchmarks/profile_split.py [--size 2048] [--repeat 3] [-e ilastik -e vgg16] \
        [--workers 1] [--no-numba]

The images are the head-to-head ones (benchmarks/compare_napari_convpaint.py): DSB 2018
532 (fluorescence, gray) and 646 (H&E, RGB) mirror-tiled to ``--size``², trained on the
original image with 0.75 % generated scribbles (``--synthetic``: generated images).  Each
row segments cold (feature cache cleared), coarse to fine (the default) and, with
``--every-pixel``, classifying every pixel.  "forest s" is the time spent inside the
classifier (summed over threads), "features s" the rest of the call (extraction, pyramid,
upsampling/gathering, assembling); with ``--workers 1`` (the default here) the two add up
to the wall time.  ``--no-numba`` sets ``CONVPAINT_NUMBA=0``: NumPy/scikit-learn paths,
same numbers.  Medians of ``--repeat``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("-e", "--extractor", action="append")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--every-pixel", action="store_true", help="also coarse_to_fine=1")
    p.add_argument("--no-numba", action="store_true")
    p.add_argument("--synthetic", action="store_true")
    args = p.parse_args(argv)
    if args.no_numba:
        os.environ["CONVPAINT_NUMBA"] = "0"
    warnings.simplefilter("ignore")

    from compare_napari_convpaint import load_case, mirror_tile

    import convpaint
    import convpaint.prediction as prediction
    from convpaint.scribbles import generate_scribbles

    spent = {"s": 0.0, "px": 0}
    classify = prediction.predict_proba_features

    def timed(clf, x):
        t0 = time.perf_counter()
        out = classify(clf, x)
        spent["s"] += time.perf_counter() - t0
        spent["px"] += x.shape[1]
        return out

    prediction.predict_proba_features = timed
    print(
        f"{args.size}², workers={args.workers}, numba={'off' if args.no_numba else 'on'}; "
        f"medians of {args.repeat}"
    )
    print("| extractor | image | mode | segment s | features s | forest s | classified % |")
    print("|---|---|---|---|---|---|---|")
    for name in args.extractor or ["ilastik", "vgg16"]:
        opts = {"weights": "random"} if name == "vgg16" else {}
        for kind in ("gray", "rgb"):
            image, mask, desc = load_case(kind, None, args.synthetic)
            scribbles = generate_scribbles(mask, 0.0075, seed=0)
            big = mirror_tile(image, args.size)
            modes = [("coarse to fine", 4)] + ([("every pixel", 1)] if args.every_pixel else [])
            for mode, stride in modes:
                model = convpaint.ConvpaintModel(
                    name, progress=False, workers=args.workers, coarse_to_fine=stride, **opts
                ).train(image, scribbles)
                model.segment(big[:512, :512])  # compile / warm up
                rows = []
                for _ in range(args.repeat):
                    model.feature_cache.clear()
                    spent.update(s=0.0, px=0)
                    t0 = time.perf_counter()
                    model.segment(big)
                    total = time.perf_counter() - t0
                    rows.append((total, spent["s"], spent["px"]))
                total = statistics.median(r[0] for r in rows)
                forest = statistics.median(r[1] for r in rows)
                share = 100 * rows[0][2] / big.shape[0] / big.shape[1]
                print(
                    f"| {name} | {desc} | {mode} | {total:.2f} | {total - forest:.2f} | "
                    f"{forest:.2f} | {share:.1f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
