"""Figure: DINOv2 alone vs VGG16 + DINOv2 on a real H&E image (docs/figures/dinov2_vs_vgg16_dinov2.png).

Scribbles are generated from the ground-truth nuclei mask of a Data Science Bowl
2018 H&E image.  Pretrained weights cannot be downloaded in the development
environment, so both networks use ``weights="random"`` (seeded) -- the picture
shows what each extractor's *geometry* contributes (14-px patches vs pixel-sharp
CNN features), not the quality of pretrained features.

    python docs/scripts/vit_combination_figure.py [--image 002] [--weights random]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import imageio.v3 as iio
import matplotlib
import numpy as np
import tifffile

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from convpaint import ConvpaintModel  # noqa: E402
from convpaint.scribbles import generate_scribbles, instances_to_semantic  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "dsb2018_stage1_train"
OUT = ROOT / "docs" / "figures" / "dinov2_vs_vgg16_dinov2.png"


def iou(labels: np.ndarray, truth: np.ndarray) -> float:
    pred, true = labels == 2, truth == 1
    return float((pred & true).sum() / max(1, (pred | true).sum()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", default="002", help="DSB index of an H&E image")
    parser.add_argument("--weights", default="random")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    image = iio.imread(DATA / "images" / f"{args.image}.png")[..., :3]
    truth = instances_to_semantic(tifffile.imread(DATA / "masks" / f"{args.image}.tif"))
    scribbles = generate_scribbles(truth, coverage=0.02, line_width=2, seed=0)
    panels = [("scribbles: cyan background, magenta nuclei", None), ("ground truth", truth + 1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for name, opts in [
            ("dinov2", {"weights": args.weights}),
            (
                "vgg16+dinov2",
                {"vgg16": {"weights": args.weights}, "dinov2": {"weights": args.weights}},
            ),
        ]:
            model = ConvpaintModel(name, **opts).train(image, scribbles)
            labels = model.segment(image)
            panels.append((f"{name}: IoU {iou(labels, truth):.2f}", labels))
            print(panels[-1][0], f"({model.n_features_} features)")

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0))
    for ax, (title, labels) in zip(axes, panels, strict=True):
        ax.imshow(image)
        if labels is None:
            overlay = np.ma.masked_equal(scribbles, 0)
            ax.imshow(overlay, cmap="cool", vmin=1, vmax=2, interpolation="nearest")
        else:
            ax.imshow(
                np.ma.masked_equal(labels, 1), cmap="autumn", alpha=0.45, interpolation="nearest"
            )
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.suptitle(
        f"DSB2018 H&E image {args.image}: nuclei vs background, {args.weights} weights "
        "(pretrained weights not available offline)",
        fontsize=9,
    )
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
