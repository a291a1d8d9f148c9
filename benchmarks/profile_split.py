"""Where segment() time goes: features vs forest, per extractor and image kind.

    python benchmarks/profile_split.py [--size 2048] [--repeat 3] [-e ilastik -e vgg16] \
        [--workers 1] [--no-numba] [--images gray rgb] [--weights PATH] [--ab-conv1] [--ab-settle]

The images are the head-to-head ones (benchmarks/compare_napari_convpaint.py): DSB 2018
532 (fluorescence, gray) and 646 (H&E, RGB) mirror-tiled to ``--size``², trained on the
original image with 0.75 % generated scribbles (``--synthetic``: generated images).  Each
row segments cold (feature cache cleared), coarse to fine (the default) and, with
``--every-pixel``, classifying every pixel.  "forest s" is the time spent inside the
classifier (summed over threads), "features s" the rest of the call (extraction, pyramid,
upsampling/gathering, assembling); with ``--workers 1`` (the default here) the two add up
to the wall time; "extract s" is the part of "features s" inside the extractor's
``extract`` or ``extract_interior`` (the convolutions), the rest is pyramid, caching and upsampling/gathering.
``--ab-conv1`` (``vgg16``, default layer): the same trained model segments alternately
with torch's ``conv2d`` for ``conv1_1`` (the extractor as it is) and with the sgemm of
``convpaint_vgg/first_conv.py``, call by call, so both see the same machine load.  ``--ab-settle``: the same alternation between the
forest's labels-only early stop (the default for ``segment``: a block of refined pixels
leaves the forest once its labels are settled) and walking every tree.  ``--no-numba`` sets
``CONVPAINT_NUMBA=0``: NumPy/scikit-learn paths, same numbers.  ``vgg16`` gets ``weights="random"`` unless ``--weights PATH`` (e.g. the
head-to-head's checkpoint; same cost either way).  Medians of ``--repeat``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from functools import partial
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
    p.add_argument("--images", nargs="+", choices=("gray", "rgb"), default=["gray", "rgb"])
    p.add_argument("--weights", help="vgg16 checkpoint (default: random weights)")
    p.add_argument(
        "--ab-conv1", action="store_true", help="vgg16: alternate with first_conv's sgemm"
    )
    p.add_argument(
        "--ab-settle",
        action="store_true",
        help="alternate with refined pixels walking every tree (no labels-only early stop)",
    )
    args = p.parse_args(argv)
    if args.no_numba:
        os.environ["CONVPAINT_NUMBA"] = "0"
    warnings.simplefilter("ignore")

    from compare_napari_convpaint import load_case, mirror_tile

    import convpaint
    import convpaint.prediction as prediction
    from convpaint.scribbles import generate_scribbles

    spent = {"s": 0.0, "px": 0, "extract": 0.0}
    classify = prediction.predict_proba_features
    settle = {"on": True}

    def timed(clf, x, labels_only=False, sure_at=0.0):
        t0 = time.perf_counter()
        out = classify(clf, x, labels_only and settle["on"], sure_at)
        spent["s"] += time.perf_counter() - t0
        spent["px"] += x.shape[1]
        return out

    prediction.predict_proba_features = timed
    print(
        f"{args.size}², workers={args.workers}, numba={'off' if args.no_numba else 'on'}; "
        f"medians of {args.repeat}"
    )
    print(
        "| extractor | image | mode | segment s | features s | of which extract s | forest s "
        "| classified % |"
    )
    print("|---|---|---|---|---|---|---|---|")
    axes = {"gray": "YX", "rgb": "YXC"}
    for name in args.extractor or ["ilastik", "vgg16"]:
        opts = {"weights": args.weights or "random"} if name == "vgg16" else {}
        for kind in args.images:
            image, mask, desc = load_case(kind, None, args.synthetic)
            scribbles = generate_scribbles(mask, 0.0075, seed=0)
            big = mirror_tile(image, args.size)
            modes = [("coarse to fine", 4)] + ([("every pixel", 1)] if args.every_pixel else [])
            for mode, stride in modes:
                model = convpaint.ConvpaintModel(
                    name, progress=False, workers=args.workers, coarse_to_fine=stride, **opts
                ).train(image, scribbles, axes=axes[kind])
                ex = model.extractor
                variants = [("", ex.extract, True)]
                if args.ab_settle:
                    variants.append((" (every tree)", ex.extract, False))
                if args.ab_conv1 and name == "vgg16" and ex.layers == [0]:
                    # the same model alternates torch's conv2d and convpaint_vgg.first_conv's
                    # sgemm (same features to rounding), call by call: same load for both
                    from convpaint_vgg.first_conv import conv3x3

                    conv = ex._trunk[0]
                    weight, bias = conv.weight.detach().numpy(), conv.bias.detach().numpy()
                    variants.append(
                        (" (sgemm conv1_1)", partial(conv3x3, weight=weight, bias=bias), True)
                    )

                model.segment(big[:512, :512], axes=axes[kind])  # compile / warm up
                rows: dict[str, list] = {v[0]: [] for v in variants}
                for _ in range(args.repeat):
                    for variant, extract, settles in variants:
                        settle["on"] = settles

                        def timed_call(call):
                            def run(*a):  # the outermost call counts (interior -> extract)
                                outer = not spent.get("in", False)
                                spent["in"] = True
                                t0 = time.perf_counter()
                                try:
                                    return call(*a)
                                finally:
                                    if outer:
                                        spent["in"] = False
                                        spent["extract"] += time.perf_counter() - t0

                            return run

                        ex.extract = timed_call(extract)
                        ex.extract_interior = timed_call(type(ex).extract_interior.__get__(ex))
                        model.feature_cache.clear()
                        spent.update(s=0.0, px=0, extract=0.0)
                        t0 = time.perf_counter()
                        model.segment(big, axes=axes[kind])
                        total = time.perf_counter() - t0
                        rows[variant].append((total, spent["s"], spent["px"], spent["extract"]))
                for variant, rs in rows.items():
                    total, forest, _, extracted = (
                        statistics.median(r[i] for r in rs) for i in range(4)
                    )
                    share = 100 * rs[0][2] / big.shape[0] / big.shape[1]
                    print(
                        f"| {name}{variant} | {desc} | {mode} | {total:.2f} | {total - forest:.2f} "
                        f"| {extracted:.2f} | {forest:.2f} | {share:.1f} |",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
