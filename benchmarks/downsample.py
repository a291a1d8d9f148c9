"""Downsampled segmentation: time saved and quality lost, for k = 1, 2, 4 (and smoothing).

    python benchmarks/downsample.py [--data ../shared/data/dsb2018_stage1_train] \
        [--images 3] [--k 1 --k 2 --k 4] [--smooth 0 --smooth 2] [--extractor ilastik] \
        [--repeat 2] [--figure docs/figures/downsample.png]

Images: the 1024² brightfield images of DSB 2018 (the dataset's largest), or, without
the dataset, the synthetic 1024² noisy disks of bench.py.  For each image, k and
smoothing radius r: a model ``ConvpaintModel(extractor, downsample=k, smooth=r)`` is
trained on scribbles generated from the ground truth (1 % coverage, seed 0) and
segments the image; the table gives the train time and the segment wall and CPU
times (medians of ``--repeat`` rounds that run every setting in turn, so a change of
machine load hits them alike; no feature cache), the speed-up of segment over k = 1
(same r), the mIoU against the ground truth and the share of pixels labelled as at
k = 1 with the first radius.

Until ``ConvpaintModel`` accepts ``downsample=``/``smooth=``, the same computation is
emulated with the primitives (column "path" says which ran): the image is brought to
1/k by :func:`convpaint.rescale.downsample_image` (scaled to [0, 1] by its dtype's
range), the scribbles by :func:`convpaint.rescale.downsample_annotations`, a plain
model trains and predicts probabilities there, :func:`convpaint.rescale.upsample_proba`
brings them to full size, :func:`convpaint.smoothing.smooth_proba` smooths them and
the label is the most probable class.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def cases(data: Path | None, n_images: int):
    if data is not None and data.is_dir():
        from convpaint.evaluation.datasets import open_dataset
        from convpaint.scribbles import generate_scribbles

        for item in open_dataset(data, modalities=f"brightfield_gray:{n_images}"):
            image, mask, axes = item.load(masks="instance")
            truth = (mask > 0).astype(np.uint8)
            ann = generate_scribbles(truth, coverage=0.01, seed=0)  # class c -> label c + 1
            yield f"DSB {item.name} {image.shape[0]}x{image.shape[1]}", image, axes, truth, ann
        return
    from bench import make_data

    image, truth, ann = make_data(1024)
    yield "synthetic 1024² (no dataset)", image, "YX", truth - 1, ann


def native(model_cls) -> bool:
    """Whether ConvpaintModel takes ``downsample=`` and ``smooth=`` itself."""
    params = inspect.signature(model_cls).parameters
    seg = inspect.signature(model_cls.segment).parameters
    return all(p in params and p in seg for p in ("downsample", "smooth"))


class Emulated:
    """A model trained and applied at 1/k resolution, built from the primitives."""

    def __init__(self, extractor: str, k: int, r: int, **kw):
        import convpaint

        self.model = convpaint.ConvpaintModel(extractor, **kw)
        self.k, self.r = k, r

    def _low(self, image, axes):
        from convpaint.axes import resolve_axes, to_canonical
        from convpaint.normalize import intensity_range
        from convpaint.rescale import downsample_image

        canon = to_canonical(image, resolve_axes(image.shape, axes))
        if self.k == 1:
            return image
        low = downsample_image(canon, self.k) / np.float32(intensity_range(canon.dtype))
        return low[0, 0, 0] if "C" not in axes else np.moveaxis(low[0, 0], 0, -1)

    def train(self, image, ann, axes):
        from convpaint.rescale import downsample_annotations

        self.model.train(self._low(image, axes), downsample_annotations(ann, self.k), axes)
        return self

    def segment(self, image, axes):
        from convpaint.rescale import upsample_proba
        from convpaint.smoothing import smooth_proba

        proba = self.model.predict_proba(self._low(image, axes), axes)[:, None, None]
        proba = upsample_proba(proba, image.shape[:2], self.k)
        proba = smooth_proba(proba, self.r)
        return np.asarray(self.model.classes_)[np.argmax(proba[:, 0, 0], axis=0)]


def timed(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main(argv=None) -> int:
    import convpaint
    from convpaint.evaluation.metrics import mean_iou

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data/dsb2018_stage1_train"))
    p.add_argument("--images", type=int, default=3, help="1024² DSB images")
    p.add_argument("--k", type=int, action="append", help="downsampling factors (1, 2, 4)")
    p.add_argument("--smooth", type=int, action="append", help="smoothing radii (0)")
    p.add_argument("--extractor", default="ilastik")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--emulate", action="store_true", help="use the primitives even if native")
    p.add_argument("--figure", type=Path, help="write time and mIoU vs k to this PNG")
    args = p.parse_args(argv)
    ks, radii = args.k or [1, 2, 4], args.smooth or [0]
    if 1 not in ks:
        ks = [1, *ks]
    use_native = native(convpaint.ConvpaintModel) and not args.emulate
    path = "native" if use_native else "emulated"
    kw = dict(progress=False, cache_bytes=0)
    print(
        "| image | k | smooth | path | train s | segment s | segment CPU s | speed-up | "
        "CPU speed-up | mIoU | agreement with k=1 % |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for label, image, axes, truth, ann in cases(args.data, args.images):
        configs = [(k, r) for r in radii for k in ks]
        models, t_train = {}, {}
        for k, r in configs:
            if use_native:
                model = convpaint.ConvpaintModel(args.extractor, downsample=k, smooth=r, **kw)
            else:
                model = Emulated(args.extractor, k, r, **kw)
            _, t_train[k, r] = timed(partial(model.train, image, ann, axes), 1)
            models[k, r] = model
        wall: dict = {c: [] for c in configs}
        cpu: dict = {c: [] for c in configs}
        labels = {}
        for _ in range(args.repeat):
            for c in configs:  # interleaved: a change of machine load hits every setting alike
                w0, c0 = time.perf_counter(), time.process_time()
                labels[c] = np.asarray(models[c].segment(image, axes))
                wall[c].append(time.perf_counter() - w0)
                cpu[c].append(time.process_time() - c0)
        ref = labels[1, radii[0]]
        for k, r in configs:
            out = labels[k, r]
            assert out.shape == truth.shape, (out.shape, truth.shape)
            t, tc = statistics.median(wall[k, r]), statistics.median(cpu[k, r])
            speed = statistics.median(wall[1, r]) / t
            speed_cpu = statistics.median(cpu[1, r]) / tc
            miou = mean_iou(truth, out.astype(np.int64) - 1)
            agree = 100 * float(np.mean(out == ref))
            rows.append((label, k, r, t_train[k, r], t, tc, speed, speed_cpu, miou, agree))
            print(
                f"| {label} | {k} | {r} | {path} | {t_train[k, r]:.2f} | {t:.2f} | {tc:.2f} | "
                f"{speed:.2f}x | {speed_cpu:.2f}x | {miou:.4f} | {agree:.2f} |",
                flush=True,
            )
    summary(rows, ks, radii)
    primitives(ks, radii, args.repeat)
    if args.figure:
        figure(rows, ks, radii, args.figure, args.extractor)
    return 0


def summary(rows, ks, radii) -> None:
    print(
        "\n| k | smooth | train s | segment s | segment CPU s | speed-up | CPU speed-up | "
        "mIoU | agreement % |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in radii:
        for k in ks:
            sel = [row for row in rows if row[1] == k and row[2] == r]
            m = [statistics.mean(row[i] for row in sel) for i in range(3, 10)]
            print(
                f"| {k} | {r} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | {m[3]:.2f}x | "
                f"{m[4]:.2f}x | {m[5]:.4f} | {m[6]:.2f} |"
            )


def primitives(ks, radii, repeat: int) -> None:
    """Cost of the resampling and smoothing steps alone on a 1024² uint8 image, 2 classes."""
    from convpaint.rescale import downsample_image, low_shape, upsample_proba
    from convpaint.smoothing import smooth_labels, smooth_proba

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 1, 1, 1024, 1024), dtype=np.uint8)
    print("\n| step (1024², 2 classes) | s |")
    print("|---|---|")
    for k in (k for k in ks if k > 1):
        _, t = timed(partial(downsample_image, image, k), repeat)
        print(f"| downsample_image k={k} | {t:.3f} |")
        low = rng.random((2, 1, 1, *low_shape((1024, 1024), k)), dtype=np.float32)
        _, t = timed(partial(upsample_proba, low / low.sum(0), (1024, 1024), k), repeat)
        print(f"| upsample_proba k={k} | {t:.3f} |")
    proba = rng.random((2, 1, 1, 1024, 1024), dtype=np.float32)
    labels = (proba[0] > 0.5).astype(np.uint8) + 1
    for r in (r for r in radii if r > 0):
        _, t = timed(partial(smooth_proba, proba, r), repeat)
        print(f"| smooth_proba r={r} (box) | {t:.3f} |")
        _, t = timed(partial(smooth_labels, labels, r, (1, 2)), repeat)
        print(f"| smooth_labels r={r} (box) | {t:.3f} |")


def figure(rows, ks, radii, path: Path, extractor: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convpaint.io import atomic_write

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
    for r in radii:
        sel = [[row for row in rows if row[1] == k and row[2] == r] for k in ks]
        ax1.plot(ks, [statistics.mean(x[4] for x in s) for s in sel], "o-", label=f"smooth {r}")
        ax2.plot(ks, [statistics.mean(x[8] for x in s) for s in sel], "o-", label=f"smooth {r}")
    ax1.set(xlabel="downsample k", ylabel="segment wall time (s)", xticks=ks)
    ax2.set(xlabel="downsample k", ylabel="mIoU vs ground truth", xticks=ks)
    ax2.legend()
    fig.suptitle(f"{extractor}: downsampled segmentation (1024² DSB)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, ".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
