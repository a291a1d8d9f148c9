"""Benchmark extractors end to end: feature, train and segment time, MPix/s, peak memory.

Each extractor runs in its own subprocess so that peak RSS is its own.

    python benchmarks/bench.py --size 2048 --extractor ilastik --extractor vgg16 \
        --option vgg16:weights=random --repeat 3 --markdown docs/benchmarks.md

The image is synthetic (noisy disks of several sizes); scribbles are dotted
lines every size/40 rows (the table gives the scribbled pixels).  "feature s" is one pass of
feature extraction over all tiles (what segment() computes before
classifying); "segment s" segments a second image of the same kind (seed 1,
accuracy measured there) with no cached features; "re-segment s" segments the
training image again (features from the model's cache where they fit); times
are medians over ``--repeat`` runs; peak RSS is the child process's maximum
resident memory over all runs (feature cache included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time


def make_data(size: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = np.ones((size, size), np.uint8)
    for _ in range(max(4, size * size // 20000)):
        cy, cx = rng.integers(0, size, 2)
        r = rng.integers(size // 100 + 3, size // 30 + 8)
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 2
    image = np.where(truth == 2, 160, 60) + rng.normal(0, 20, truth.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    ann = np.zeros_like(truth)
    step = max(16, size // 40)
    for y in range(step // 2, size, step):
        row = slice(y, y + 2)
        ann[row, ::3] = np.where(truth[row, ::3] == 1, 1, 0)
        ann[row, 1::7] = np.where(truth[row, 1::7] == 2, 2, ann[row, 1::7])
    return image, truth, ann


def feature_pass(model, image) -> int:
    """Featurise every tile of ``image`` as segment() does, without classifying or keeping them."""
    from convpaint.inputs import prepare_image
    from convpaint.prediction import map_features
    from convpaint.tiling import TileGrid
    from convpaint.units import make_units

    canon, _ = prepare_image(image, None)
    plan = model.plan(canon.shape[-2:], training=False)
    grid = TileGrid(canon.shape[-2:], plan.grid.tile, model.pipeline.halo)
    features = model._features(grid, canon.dtype, store=False)
    units = make_units(canon, model.normalize, model.volumetric)
    n = 0
    for _, feats in map_features(features, units, grid, plan.workers):
        n = feats.shape[0]
    return n


def run_one(
    name: str,
    size: int,
    repeat: int,
    options: dict,
    tile_size: int | None = None,
    rgb: bool = False,
    cache_mib: int | None = None,
) -> dict:
    import numpy as np

    import convpaint

    image, _, ann = make_data(size)
    other, truth, _ = make_data(size, seed=1)  # segmented cold: no cached features
    if rgb:  # three differently mixed channels carrying the same structure
        image, other = (np.stack([x, 255 - x, x // 2 + 64], axis=-1) for x in (image, other))
    if cache_mib is not None:
        options = {**options, "cache_bytes": cache_mib * 2**20}
    feats, trains, segs, resegs = [], [], [], []
    for _ in range(repeat):
        model = convpaint.ConvpaintModel(name, progress=False, tile_size=tile_size, **options)
        t0 = time.perf_counter()
        model.train(image, ann)
        t1 = time.perf_counter()
        labels = model.segment(other)
        t2 = time.perf_counter()
        model.segment(image)  # the training image: cached features where they fit
        t3 = time.perf_counter()
        n_features = feature_pass(model, other)
        t4 = time.perf_counter()
        trains.append(t1 - t0)
        segs.append(t2 - t1)
        resegs.append(t3 - t2)
        feats.append(t4 - t3)
    seg = statistics.median(segs)
    return {
        "extractor": name,
        "options": options,
        "size": size,
        "n_features": int(n_features),
        "annotated_px": int((ann > 0).sum()),
        "feature_s": statistics.median(feats),
        "train_s": statistics.median(trains),
        "segment_s": seg,
        "resegment_s": statistics.median(resegs),
        "segment_mpix_s": size * size / 1e6 / seg,
        "accuracy": float(np.mean(labels == truth)),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "repeat": repeat,
        "tile_size": tile_size,
        "rgb": rgb,
        "cache_mib": model.feature_cache.max_bytes // 2**20,
    }


def parse_options(pairs: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for pair in pairs or []:
        name, _, kv = pair.partition(":")
        key, _, value = kv.partition("=")
        try:
            out.setdefault(name, {})[key] = json.loads(value)
        except json.JSONDecodeError:
            out.setdefault(name, {})[key] = value
    return out


def markdown(rows: list[dict], cmd: str) -> str:
    head = (
        "| extractor | image | scribbled px | features | feature s | train s | segment s | segment MPix/s | re-segment s | peak RSS MiB | accuracy |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['extractor']}{' ' + json.dumps(r['options']) if r['options'] else ''}"
        f"{' (tile ' + str(r['tile_size']) + ')' if r.get('tile_size') else ''} | {r['size']}²{' RGB' if r.get('rgb') else ''} | {r['annotated_px']} "
        f"| {r['n_features']} | {r['feature_s']:.2f} | {r['train_s']:.2f} | {r['segment_s']:.2f} "
        f"| {r['segment_mpix_s']:.3g} | {r.get('resegment_s', float('nan')):.2f} | {r['peak_rss_mib']:.0f} | {r['accuracy']:.3f} |\n"
        for r in rows
    )
    env = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return f"Command: `{cmd}`\n\nMachine: {env}; medians of {rows[0]['repeat']} run(s).\n\n{head}{body}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--extractor", "-e", action="append", required=True)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--tile-size", type=int, help="tile edge for train and segment (default: automatic)"
    )
    parser.add_argument("--option", action="append", metavar="NAME:KEY=VALUE")
    parser.add_argument("--rgb", action="store_true", help="a 3-channel version of the image")
    parser.add_argument("--cache-mib", type=int, help="feature cache budget (default: the model's)")
    parser.add_argument("--json", help="write rows as JSON here")
    parser.add_argument("--markdown", help="write a markdown table here")
    parser.add_argument("--_child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    options = parse_options(args.option)
    if args._child:
        row = run_one(
            args._child,
            args.size,
            args.repeat,
            options.get(args._child, {}),
            args.tile_size,
            args.rgb,
            args.cache_mib,
        )
        print(json.dumps(row))
        return 0
    rows = []
    for name in args.extractor:
        cmd = [
            sys.executable,
            __file__,
            "-e",
            name,
            "--size",
            str(args.size),
            "--repeat",
            str(args.repeat),
            *(["--tile-size", str(args.tile_size)] if args.tile_size else []),
            *(["--rgb"] if args.rgb else []),
            *(["--cache-mib", str(args.cache_mib)] if args.cache_mib is not None else []),
            "--_child",
            name,
        ]
        for opt in args.option or []:
            cmd += ["--option", opt]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{name:>16}: features {row['feature_s']:.2f} s, train {row['train_s']:.2f} s, segment "
            f"{row['segment_s']:.2f} s ({row['segment_mpix_s']:.2f} MPix/s), peak {row['peak_rss_mib']:.0f} MiB, "
            f"acc {row['accuracy']:.3f}",
            flush=True,
        )
    if not rows:
        return 1
    text = markdown(rows, "python benchmarks/bench.py " + " ".join(sys.argv[1:]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
