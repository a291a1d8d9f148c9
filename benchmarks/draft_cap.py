"""The live draft's sample cap: fit and view-segmentation time, and agreement with the full
forest, for draft trees bootstrapping all samples or at most ``--cap`` of them.

The coins image scaled by ``--scale`` (3: ~1 MPix), ``--painted`` pixels scribbled in a
746 x 850 view (the napari benchmark's 1:1 field of view), ``ilastik``, the default
classifier (100 trees; the draft: 16, ``convpaint.progressive``); features are cached
(as while painting).  Medians of ``--repeats`` after one warm-up round.

    .venv/bin/python benchmarks/draft_cap.py --scale 3 --painted 20000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--painted", type=int, default=20000)
    parser.add_argument(
        "--cap", type=int, action="append", help="repeatable (default 8192, 4096, 2048)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    from skimage import data, transform

    import convpaint
    from convpaint.demo import demo_scribbles
    from convpaint.progressive import ProgressiveFit

    sys.path.insert(0, str(Path(__file__).parent))
    from napari_live import strokes

    image = transform.rescale(data.coins(), args.scale, order=1, preserve_range=True)
    image = image.astype(np.uint8)
    small = convpaint.ConvpaintModel("ilastik").train(data.coins(), demo_scribbles())
    reference = transform.resize(
        small.segment(data.coins()), image.shape, order=0, preserve_range=True, anti_aliasing=False
    ).astype(np.uint8)
    cy, cx = image.shape[0] // 2, image.shape[1] // 2
    view = (slice(cy - 373, cy + 373), slice(cx - 425, cx + 425))
    bounds = ((view[0].start, view[0].stop), (view[1].start, view[1].stop))
    ann = np.zeros(image.shape, np.uint8)
    for (ys, xs), label in strokes(reference, 5000, 5, (20, 40), bounds, seed=1):
        ann[ys, xs] = label
        if np.count_nonzero(ann) >= args.painted:
            break
    full = convpaint.ConvpaintModel("ilastik").train(image, ann).segment(image, region=view)
    model = convpaint.ConvpaintModel("ilastik")
    caps = [None, *(args.cap or [8192, 4096, 2048])]
    rows: dict = {}
    for repeat in range(args.repeats + 1):
        for cap in caps:
            fit = ProgressiveFit(model, image, ann, max_samples=cap)
            t0 = time.perf_counter()
            fit.draft()
            t1 = time.perf_counter()
            labels = model.segment(image, region=view)
            t2 = time.perf_counter()
            if repeat:  # the first round warms the feature cache
                rows.setdefault(cap, []).append((t1 - t0, t2 - t1, float((labels == full).mean())))
    print(f"{image.shape[0]} x {image.shape[1]}, {np.count_nonzero(ann)} px painted")
    print("| draft sample cap | samples + draft fit s | segment view s | labels = full forest |")
    print("|---|---|---|---|")
    for cap, values in rows.items():
        med = [statistics.median(v[i] for v in values) for i in range(3)]
        print(f"| {cap or 'all'} | {med[0]:.3f} | {med[1]:.3f} | {med[2]:.4f} |")


if __name__ == "__main__":
    main()
