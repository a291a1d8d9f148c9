"""A project of N images (default 40 x 1024²) with annotations on K (default 8): time and
peak RSS of ``convpaint project train`` and ``segment``, and a kill/resume check.

Issue 16 item 3 (targets: train and segment with a peak RSS <= 1.5 GB; a killed
``project segment`` resumed finishes with outputs identical to an uninterrupted run)::

    nice python benchmarks/project.py                       # 40 x 1024², 8 annotated, ilastik
    nice python benchmarks/project.py --images 10 --annotated 2 --size 512   # quick

The images are synthetic (bright disks of random size on a noisy uneven background,
uint8 TIFFs in a temporary folder); scribbles come from their masks with
:func:`convpaint.scribbles.generate_scribbles` (0.5 % coverage).  Each step runs in its
own child process (``python -m convpaint.cli project ...``), so that its peak RSS
(``VmHWM``, else ``ru_maxrss``) is its own.  The kill/resume check copies the trained project,
starts ``project segment`` in the copy, SIGKILLs it once a few outputs exist, runs it
again and compares every output with those of the uninterrupted run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from convpaint.cli import main

def peak_mb():  # VmHWM is this process's own; ru_maxrss may keep the forking parent's
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

t0 = time.perf_counter()
rc = main(["project", *sys.argv[1:]])
print(json.dumps({"rc": rc, "wall_s": time.perf_counter() - t0, "peak_rss_mb": peak_mb()}))
"""


def make_images(folder: Path, n: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """Write ``n`` synthetic ``size``² uint8 TIFFs; returns their masks."""
    import tifffile
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    masks = []
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        mask = np.zeros((size, size), bool)
        for _ in range(size * size // 6000):
            cy, cx = rng.integers(0, size, 2)
            r = rng.integers(6, 18)
            mask[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = True
        shade = ndimage.gaussian_filter(rng.normal(size=(size // 32, size // 32)), 2)
        shade = ndimage.zoom(shade, 32, order=1)[:size, :size]
        img = 60 + 20 * shade + np.where(mask, 90, 0) + rng.normal(0, 18, (size, size))
        tifffile.imwrite(folder / f"img{i:03d}.tif", np.clip(img, 0, 255).astype(np.uint8))
        masks.append(mask)
    return masks


def step(*argv: str) -> dict:
    """Run ``convpaint project ARGV`` in a child process: its rc, wall time, peak RSS."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *argv, "--quiet"]
        if argv[0] in ("train", "segment")
        else [sys.executable, "-c", CHILD, *argv],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"convpaint project {' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def outputs(project: Path) -> dict[str, np.ndarray]:
    import tifffile

    return {
        str(p.relative_to(project)): tifffile.imread(p)
        for sub in ("segmentations", "instances")
        for p in sorted((project / sub).glob("*.tif"))
    }


def kill_and_resume(project: Path, copy: Path, after: int, instances: bool) -> dict:
    """SIGKILL ``project segment`` in ``copy`` once ``after`` outputs exist, rerun it, and
    compare with the outputs of ``project`` (uninterrupted)."""
    extra = ["--instances"] if instances else []
    cmd = [
        sys.executable,
        "-m",
        "convpaint.cli",
        "project",
        "segment",
        str(copy),
        "--quiet",
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seg = copy / "segmentations"
    while proc.poll() is None and len(list(seg.glob("*.tif"))) < after:
        time.sleep(0.05)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(list(seg.glob("*.tif")))
    resumed = step("segment", str(copy), *extra)
    a, b = outputs(project), outputs(copy)
    differ = sorted(
        k for k in a.keys() | b.keys() if k not in a or k not in b or not np.array_equal(a[k], b[k])
    )
    identical = not differ
    return {
        "differ": differ,
        "killed": killed,
        "outputs_at_kill": before,
        "resume_s": resumed["wall_s"],
        "identical": identical,
        "n_outputs": len(b),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--annotated", type=int, default=8)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--extractor", default="ilastik")
    ap.add_argument("--instances", action="store_true", help="segment with --instances too")
    ap.add_argument("--keep", type=Path, help="build the project here instead of a temp dir")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()

    from convpaint.project import Project
    from convpaint.scribbles import generate_scribbles

    tmp = Path(tempfile.mkdtemp(prefix="convpaint-project-bench-"))
    root = args.keep or tmp
    try:
        masks = make_images(root / "data", args.images, args.size)
        project_dir = root / "project"
        step(
            "init",
            str(project_dir),
            "--images",
            str(root / "data" / "*.tif"),
            "--extractor",
            args.extractor,
            "--class",
            "1=background",
            "--class",
            "2=nucleus",
        )
        project = Project(project_dir)
        for i, name in enumerate(project.names[: args.annotated]):
            ann = generate_scribbles(masks[i].astype(np.uint8), 0.005, seed=i)
            project.save_annotations(name, ann.astype(np.uint8))
        train = step("train", str(project_dir))
        copy = root / "project-copy"
        shutil.copytree(project_dir, copy)  # before segmenting: the copy starts from scratch
        extra = ["--instances"] if args.instances else []
        segment = step("segment", str(project_dir), *extra)
        again = step("segment", str(project_dir), *extra)  # nothing to do: all current
        check = kill_and_resume(project_dir, copy, max(2, args.images // 8), args.instances)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)

    n, k, s = args.images, args.annotated, args.size
    if args.json:
        figures = {"images": n, "annotated": k, "size": s, "extractor": args.extractor}
        figures.update(train=train, segment=segment, again=again, resume=check)
        args.json.write_text(json.dumps(figures, indent=1))
    print(f"\n### Project of {n} images of {s}², annotated {k}, extractor {args.extractor}\n")
    print("| step | wall time (s) | peak RSS (MiB) |")
    print("|---|---:|---:|")
    print(f"| train ({k} annotated images) | {train['wall_s']:.1f} | {train['peak_rss_mb']:.0f} |")
    print(f"| segment ({n} images) | {segment['wall_s']:.1f} | {segment['peak_rss_mb']:.0f} |")
    print(f"| segment again (all current) | {again['wall_s']:.1f} | {again['peak_rss_mb']:.0f} |")
    print(
        f"\nkill/resume: SIGKILL after {check['outputs_at_kill']} of {n} outputs "
        f"(killed while running: {check['killed']}), resumed in {check['resume_s']:.1f} s; "
        f"{check['n_outputs']} outputs identical to the uninterrupted run: {check['identical']}"
        + (f" (differ: {', '.join(check['differ'])})" if check["differ"] else "")
    )


if __name__ == "__main__":
    main()
