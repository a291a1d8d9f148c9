"""Larger-than-memory benchmark: zarr input -> streamed OME-Zarr output, peak RSS and throughput.

Each measurement runs in its own subprocess (peak RSS = that run's ``ru_maxrss``).

    nice python benchmarks/large_data.py compare --size 2048          # in memory vs zarr -> zarr
    nice python benchmarks/large_data.py plane --size 16384           # one 16384^2 plane
    nice python benchmarks/large_data.py stack --planes 8 --size 2048 # a ZYX stack (subset)
    ... --json docs/benchmarks/large-data.json                        # append the results

Images are synthetic uint8 (noisy disks, written chunk by chunk into a zarr array of
1024^2 chunks, never whole in memory); the model is ``ilastik`` (default filters and
scales, 100 trees) trained on dotted scribbles of a 1024^2 image of the same kind.
Throughput is pixels per second of the whole call (reduction pass and zarr writes
included), after a warm-up call on a 256^2 crop in the same mode (imports, thread pools).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench import make_data  # noqa: E402

CHUNK = 1024


def write_synthetic(path: Path, shape: tuple[int, ...]) -> None:
    """A uint8 zarr array of noisy disks, one 1024^2 chunk at a time."""
    import numpy as np
    import zarr

    arr = zarr.create_array(
        str(path), shape=shape, chunks=(1,) * (len(shape) - 2) + (CHUNK, CHUNK), dtype="u1"
    )
    ny, nx = shape[-2:]
    for lead in np.ndindex(*shape[:-2]):
        seed = int(np.ravel_multi_index(lead, shape[:-2])) if lead else 0
        for y in range(0, ny, CHUNK):
            for x in range(0, nx, CHUNK):
                h, w = min(CHUNK, ny - y), min(CHUNK, nx - x)
                image, _, _ = make_data(CHUNK, seed=seed * 100003 + y * 7 + x + 1)
                arr[(*lead, slice(y, y + h), slice(x, x + w))] = image[:h, :w]


def train_model(path: Path) -> None:
    import convpaint

    image, _, ann = make_data(1024, seed=0)
    convpaint.ConvpaintModel("ilastik", progress=False).train(image, ann).save(path)


def child(args) -> dict:
    """One measured run (in a fresh process)."""
    import numpy as np
    import zarr

    import convpaint

    model = convpaint.load_model(args.model)
    model.progress = False
    src = zarr.open_array(args.input, mode="r")
    axes = "ZYX" if src.ndim == 3 else "YX"
    n_px = int(np.prod(src.shape))
    warm = src[(0,) * (src.ndim - 2) + (slice(0, 256), slice(0, 256))]
    if args.mode == "memory":  # one-off imports and thread pools out of the timing
        model.segment(warm)
    else:
        import dask.array as da

        model.segment(da.from_array(warm)).compute()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if args.mode == "memory":
        image = src[...]
        t0 = time.perf_counter()  # reading the file is not the in-memory path's work
        labels = model.segment(image, axes=axes)
        seconds = time.perf_counter() - t0
        checksum = int(labels.sum(dtype=np.int64))
    else:
        group = model.segment(src, axes, out=args.output)
        seconds = time.perf_counter() - t0
        checksum = int(group["0"][...].sum(dtype=np.int64)) if n_px <= 2**24 else -1
    return {
        "mode": args.mode,
        "shape": list(src.shape),
        "seconds": round(seconds, 2),
        "mpix_per_s": round(n_px / seconds / 1e6, 3),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "rss_before_mb": rss0 // 1024,
        "checksum": checksum,
        "workers": model.workers,
        "tile": model.plan(src.shape[-2:], training=False).grid.tile,
    }


def run(mode: str, model: Path, data: Path, out: Path) -> dict:
    cmd = [sys.executable, __file__, "child", "--mode", mode, "--model", str(model)]
    cmd += ["--input", str(data), "--output", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        raise SystemExit(res.stderr)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("what", choices=["compare", "plane", "stack", "child"])
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--planes", type=int, default=8)
    p.add_argument("--mode", default="zarr")
    p.add_argument("--model")
    p.add_argument("--input")
    p.add_argument("--output")
    p.add_argument("--repeat", type=int, default=1, help="runs per mode (interleaved; median)")
    p.add_argument("--json", help="append results to this JSON list")
    p.add_argument("--workdir", help="keep data here (default: a temporary folder)")
    args = p.parse_args(argv)
    if args.what == "child":
        print(json.dumps(child(args)))
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        shape = (args.planes, args.size, args.size) if args.what == "stack" else (args.size,) * 2
        write_synthetic(tmp / "in.zarr", shape)
        train_model(tmp / "model.npz")
        modes = ["memory", "zarr"] if args.what == "compare" else ["zarr"]
        runs: dict[str, list[dict]] = {m: [] for m in modes}
        for k in range(args.repeat):  # interleaved: the machine's load hits both alike
            for mode in modes:
                out = tmp / f"out-{mode}-{k}.ome.zarr"
                runs[mode].append(run(mode, tmp / "model.npz", tmp / "in.zarr", out))
                print(json.dumps(runs[mode][-1]), flush=True)
        results = []
        for mode in modes:
            r = dict(runs[mode][0])
            secs = sorted(x["seconds"] for x in runs[mode])
            r["seconds"] = secs[len(secs) // 2]
            r["all_seconds"] = [x["seconds"] for x in runs[mode]]
            r["mpix_per_s"] = round(math.prod(r["shape"]) / r["seconds"] / 1e6, 3)
            r["peak_rss_mb"] = max(x["peak_rss_mb"] for x in runs[mode])
            r["benchmark"] = args.what
            results.append(r)
            print("median:", json.dumps(r), flush=True)
        if args.what == "compare":
            same = results[0]["checksum"] == results[1]["checksum"]
            ratio = results[1]["mpix_per_s"] / results[0]["mpix_per_s"]
            print(f"zarr/in-memory throughput {ratio:.2f}; same labels (checksum): {same}")
    if args.json:
        path = Path(args.json)
        old = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps(old + results, indent=1) + "\n")


if __name__ == "__main__":
    main()
