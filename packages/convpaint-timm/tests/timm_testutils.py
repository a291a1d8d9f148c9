"""Helpers shared by the convpaint-timm tests."""

import copy
import warnings

import numpy as np

from convpaint_timm import ConvNeXtTinyFeatures, EfficientNetB0Features

CLASSES = {"efficientnet": EfficientNetB0Features, "convnext": ConvNeXtTinyFeatures}


def random_extractor(name: str, **options):
    """An extractor with seeded random weights (its warning silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return CLASSES[name](weights="random", **options)


def without_se(ex):
    """``ex`` on a private copy of its trunk with squeeze-and-excitation removed (local net)."""
    import torch

    ex._trunk = copy.deepcopy(ex._trunk)
    for module in ex._trunk.modules():
        if hasattr(module, "se"):
            module.se = torch.nn.Identity()
    return ex


def random_plane(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((3, height, width)).astype(np.float32)


def crops(size, padding, alignment, n, rng):
    """``n`` random crops whose origins are aligned and whose halo lies inside ``size``."""
    height, width = size
    for _ in range(n):
        lo = -(-padding // alignment)
        y0 = alignment * int(rng.integers(lo, (height - padding) // alignment))
        x0 = alignment * int(rng.integers(lo, (width - padding) // alignment))
        y1 = int(rng.integers(y0 + 1, height - padding + 1))
        x1 = int(rng.integers(x0 + 1, width - padding + 1))
        yield y0, y1, x0, x1


def tiling_error(ex, plane, halo, n=3, seed=0):
    """Largest |tiled - untiled| over ``n`` crops with ``halo``, relative to max |untiled|."""
    full = ex.extract(plane)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for y0, y1, x0, x1 in crops(plane.shape[1:], halo, ex.alignment, n, rng):
        crop = plane[:, y0 - halo : y1 + halo, x0 - halo : x1 + halo]
        part = ex.extract(crop)[:, halo : halo + y1 - y0, halo : halo + x1 - x0]
        worst = max(worst, float(np.abs(part - full[:, y0:y1, x0:x1]).max()))
    return worst / float(np.abs(full).max())
