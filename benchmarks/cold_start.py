"""Cold start: the first train + segment of the coins demo in a fresh process (issue 18, item 4).

    python benchmarks/cold_start.py [--runs 5] [--extractors ilastik,raw] [--calls 10]

Every run is a fresh ``python`` process that times, in order: ``import convpaint``;
the setup (``from convpaint import ConvpaintModel``, ``ConvpaintModel(extractor=...)``,
which imports scikit-learn, then the variant's warm-up); then ``--calls`` times a new model's
``train`` + ``segment`` on scikit-image's coins with the shipped demo scribbles
(construction untimed).  The table gives medians over ``--runs`` processes of the
first call, the tenth (the last) and their difference, per variant:

* ``as is``: no warm-up call: since 2026-12-03 the first ``ConvpaintModel()`` starts
  ``jit.preload`` on a thread (numba and the kernels load during the setup, while
  scikit-learn is imported); before that they loaded inside the first call;
* ``kernels``: ``convpaint.demo.warm_up()``: numba, the compiled kernels
  (``jit.preload``) and scikit-learn-intelex imported and loaded;
* ``warm-up``: ``warm_up(extractor)``: that and a throwaway 48 x 48 train + segment
  (``run_demo`` does this);
* ``warm-up, empty cache``: the same with ``NUMBA_CACHE_DIR`` a fresh empty folder
  (a first-ever process: numba compiles; one run, its cache dropped).

``python -X importtime -c "import convpaint"`` gives the import's own breakdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

VARIANTS = ("as is", "kernels", "warm-up", "warm-up, empty cache")


def worker(extractor: str, calls: int, variant: str) -> dict:
    """One fresh process's timings (seconds)."""
    t0 = time.perf_counter()
    import convpaint  # noqa: F401

    t1 = time.perf_counter()
    from skimage import data

    from convpaint import ConvpaintModel
    from convpaint.demo import demo_scribbles, warm_up

    image, scribbles = data.coins(), demo_scribbles()
    models = [ConvpaintModel(extractor=extractor) for _ in range(calls)]
    if variant == "kernels":
        warm_up()
    elif variant != "as is":
        warm_up(extractor)
    t2 = time.perf_counter()
    per_call = []
    for model in models:
        a = time.perf_counter()
        model.train(image, scribbles)
        model.segment(image)
        per_call.append(time.perf_counter() - a)
    return {"import": t1 - t0, "setup": t2 - t1, "calls": per_call}


def run_one(extractor: str, calls: int, variant: str) -> dict:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as empty:
        if variant.endswith("empty cache"):
            env["NUMBA_CACHE_DIR"] = empty
        args = [sys.executable, __file__, "--worker", extractor, str(calls), variant]
        out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--extractors", default="ilastik,raw")
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        ext, calls, variant = args.worker
        print(json.dumps(worker(ext, int(calls), variant)))
        return
    if args.runs < 1 or args.calls < 2:
        raise ValueError("--runs must be >= 1 and --calls >= 2")
    extractors = [e for e in args.extractors.split(",") if e]
    results: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.runs):  # interleaved: every variant once per round
        for ext in extractors:
            for variant in VARIANTS:
                if variant.endswith("empty cache") and r:
                    continue
                results.setdefault((ext, variant), []).append(run_one(ext, args.calls, variant))
    med = statistics.median
    print(f"fresh processes: {args.runs} per variant (empty cache: 1), {args.calls} calls each\n")
    print(
        "| extractor | variant | import convpaint s | setup s | first train+segment s "
        f"| call {args.calls} s | first - last s |"
    )
    print("|---|---|---|---|---|---|---|")
    for (ext, variant), runs in results.items():
        first = med(r["calls"][0] for r in runs)
        last = med(r["calls"][-1] for r in runs)
        extra = med(r["calls"][0] - r["calls"][-1] for r in runs)
        print(
            f"| {ext} | {variant} | {med(r['import'] for r in runs):.2f} "
            f"| {med(r['setup'] for r in runs):.2f} | {first:.2f} | {last:.2f} | {extra:+.2f} |"
        )


if __name__ == "__main__":
    main()
