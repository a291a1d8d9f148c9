"""``convpaint demo``: segment scikit-image's bundled coins image from shipped scribbles."""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path

import numpy as np

from .io import write_image

COLOURS = np.array(
    [[0, 0, 0], [60, 120, 255], [255, 190, 0], [40, 220, 90], [230, 40, 40]], np.uint8
)


def demo_scribbles() -> np.ndarray:
    """The shipped hand-drawn scribbles rasterised to a label image (0 = unlabelled)."""
    from scipy import ndimage
    from skimage.draw import line

    spec = json.loads(resources.files("convpaint").joinpath("data/demo_scribbles.json").read_text())
    labels = np.zeros(spec["shape"], dtype=np.uint8)
    for stroke in spec["strokes"]:
        path = np.zeros_like(labels, dtype=bool)
        pts = stroke["points"]
        for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:], strict=True):
            rr, cc = line(y0, x0, y1, x1)
            path[rr, cc] = True
        if stroke.get("width", 1) > 1:
            path = ndimage.binary_dilation(path, iterations=(stroke["width"] - 1) // 2)
        labels[path] = stroke["label"]
    return labels


def overlay(
    image: np.ndarray, labels: np.ndarray, scribbles: np.ndarray | None = None
) -> np.ndarray:
    """RGB picture: the image in gray, labels tinted, scribbles drawn solid."""
    gray = image.astype(np.float32)
    gray = (gray - gray.min()) / max(float(np.ptp(gray)), 1e-9)
    rgb = np.repeat(gray[..., None] * 255, 3, axis=-1)
    tint = COLOURS[np.asarray(labels) % len(COLOURS)].astype(np.float32)
    out = np.where(labels[..., None] > 0, 0.6 * rgb + 0.4 * tint, rgb)
    if scribbles is not None:
        out[scribbles > 0] = COLOURS[scribbles[scribbles > 0] % len(COLOURS)]
    return out.astype(np.uint8)


def warm_up(extractor: str | None = None) -> dict[str, float]:
    """Do now what the first ``train`` would otherwise pay for: import numba and load the
    compiled kernels (:func:`convpaint.jit.preload`), import scikit-learn-intelex when
    it fits the forests and, given an ``extractor`` name, train and segment a throwaway
    model of it on a 48 x 48 crop of coins (the extractor's own imports, thread pools);
    seconds per step."""
    # importing the kernel modules registers their warm-ups with jit
    from . import fast_fit, feature_maps, forest_kernel, jit  # noqa: F401

    times = dict(jit.preload())
    try:
        intelex = fast_fit.resolve_fit() == "intelex"
    except (ImportError, ValueError):  # the first fit reports these
        intelex = False
    if intelex:
        t = time.perf_counter()
        import sklearnex.ensemble  # noqa: F401

        times["import sklearnex"] = time.perf_counter() - t
    if extractor is not None:
        from skimage import data

        from .model import ConvpaintModel

        t = time.perf_counter()
        image = data.coins()[100:148, 100:148]
        scribbles = np.zeros(image.shape, np.uint8)
        scribbles[4:8, 4:40], scribbles[30:34, 10:44] = 1, 2
        model = ConvpaintModel(extractor=extractor, workers=1)
        model.train(image, scribbles)
        model.segment(image)
        times[f"tiny {extractor} run"] = time.perf_counter() - t
    return times


def run_demo(out_dir: str | Path = "convpaint-demo", extractor: str = "ilastik") -> dict:
    """Train on the shipped scribbles, segment, write labels + overlay PNG; return timings."""
    from skimage import data

    from .model import ConvpaintModel

    out_dir = Path(out_dir)
    image = data.coins()
    scribbles = demo_scribbles()
    model = ConvpaintModel(extractor=extractor)
    warm_up(extractor)
    t0 = time.perf_counter()
    model.train(image, scribbles)
    t1 = time.perf_counter()
    labels = model.segment(image)
    t2 = time.perf_counter()
    write_image(out_dir / "coins_labels.tif", labels)
    write_image(out_dir / "coins_overlay.png", overlay(image, labels, scribbles))
    side = np.concatenate(
        [overlay(image, np.zeros_like(labels), scribbles), overlay(image, labels)], 1
    )
    write_image(out_dir / "coins_scribbles_and_result.png", side)
    coin_fraction = float(np.mean(labels == 2))
    return {
        "extractor": model.extractor.name,
        "image_shape": image.shape,
        "scribbled_pixels": int((scribbles > 0).sum()),
        "train_s": t1 - t0,
        "segment_s": t2 - t1,
        "coin_fraction": coin_fraction,
        "out_dir": str(out_dir),
    }
