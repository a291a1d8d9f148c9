"""Where segment() time goes: features vs forest, per extractor and image kind.

    python benchmarks/profile_split.py [--size 2048] [--repeat 3] [-e ilastik -e vgg16]

For each extractor and a gray and an RGB version of bench.py's synthetic image:
one feature pass over all prediction tiles, ``segment`` classifying every pixel
(``coarse_to_fine=1``) and coarse to fine (the default), all cold (no feature
cache); forest time = segment - features.  Medians of ``--repeat``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench import feature_pass, make_data  # noqa: E402


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    import convpaint

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("-e", "--extractor", action="append")
    args = p.parse_args(argv)
    image, _, ann = make_data(args.size)
    other, _, _ = make_data(args.size, seed=1)
    rgb = [np.stack([x, 255 - x, x // 2 + 64], axis=-1) for x in (image, other)]
    print(
        "| extractor | image | features | feature s | segment s (every pixel) | forest s | "
        "segment s (coarse to fine) | forest s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in args.extractor or ["ilastik", "vgg16"]:
        opts = {"weights": "random"} if name == "vgg16" else {}
        for kind, (train_img, test_img) in (("gray", (image, other)), ("RGB", rgb)):
            kw = dict(progress=False, cache_bytes=0, **opts)
            full = convpaint.ConvpaintModel(name, coarse_to_fine=1, **kw).train(train_img, ann)
            c2f = convpaint.ConvpaintModel(name, **kw).train(train_img, ann)
            t_feat = median_time(lambda m=full, x=test_img: feature_pass(m, x), args.repeat)
            t_full = median_time(lambda m=full, x=test_img: m.segment(x), args.repeat)
            t_c2f = median_time(lambda m=c2f, x=test_img: m.segment(x), args.repeat)
            print(
                f"| {name} | {args.size}² {kind} | {full.n_features_} | {t_feat:.2f} | "
                f"{t_full:.2f} | {t_full - t_feat:.2f} | {t_c2f:.2f} | {t_c2f - t_feat:.2f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
