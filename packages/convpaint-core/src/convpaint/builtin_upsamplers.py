"""Upsamplers that ship with the core: ``guided``, a training-free image-guided upsampler.

``guided`` is the guided filter of He, Sun and Tang (ECCV 2010; TPAMI 2013) applied to
patch features with the image as guide, computed at patch resolution as in He and Sun's
*Fast Guided Filter* (arXiv 1505.00996): in each window of ``(2 radius + 1)^2`` patches
the features are fitted as a linear function of the guide, ``p ~ a I + b`` (ridge
``eps``), the coefficients are averaged over the windows that cover a patch, brought to
pixel resolution bilinearly, and the output is ``q = a I + b`` at every pixel -- so
feature boundaries follow the image's edges inside a patch.

The window statistics of the guide are its exact moments over the window's pixels (each
patch's mean and mean square of the guide, and of the guide's channel products), and
each patch's feature vector stands for all of its pixels: the result is the guided
filter of the nearest-upsampled features with patch-aligned windows, evaluated exactly
at patch resolution (tested against a pixel-resolution implementation).  Only
``q = a I + b`` runs at pixel resolution: two bilinear upsamplings per feature with a
gray guide (four with ``guide="rgb"``).

Every sum has a fixed order over a patch grid aligned with the image, so a tile with a
halo of :meth:`GuidedUpsampler.context` gives bit for bit the values of the whole plane.
"""

from __future__ import annotations

import math
import threading
from functools import cache
from typing import Any

import numpy as np

from . import jit
from .hookspecs import hookimpl
from .options import Option
from .pyramid import _interp_axis, _linear_taps, downscale, upsample_into
from .upsampler import FeatureUpsampler

GUIDES = ("mean", "rgb")
CHUNK = 32  # features brought to pixel resolution at once (bounds the temporaries)


class GuidedUpsampler(FeatureUpsampler):
    """Guided filtering of patch features with the image as guide (training-free).

    Parameters
    ----------
    radius : int, default 1
        Window radius in patches: each linear model is fitted over (2 radius + 1)^2
        patches (42 x 42 px for DINOv2's 14-px patches at radius 1).
    eps : float, default 0.01
        Ridge on the guide's variance, in the guide's units squared (the normalised
        image: z-scores by default).  Larger: smoother, closer to the window mean of
        the features; smaller: edges of the image imprinted more strongly.
    guide : {"mean", "rgb"}, default "mean"
        The guide: the mean of the image channels the extractor sees, or all three
        (colour guided filter; twice the pixel-resolution work).
    """

    name = "guided"
    description = "guided filter of patch features with the image (training-free, CPU)"
    padding = 0  # the context scales with the patch: see context()
    tile_exact = True
    deterministic = True
    options = (
        Option("radius", "int", 1, "window radius in patches", minimum=1, maximum=16),
        Option(
            "eps",
            "float",
            0.01,
            "ridge: larger is smoother (closer to the window mean)",
            minimum=1e-8,
            maximum=1e4,
        ),  # fmt: skip
        Option(
            "guide", "str", "mean", "the channel mean or the three RGB channels", choices=GUIDES
        ),
    )

    def __init__(self, radius: int = 1, eps: float = 0.01, guide: str = "mean") -> None:
        if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)):
            raise TypeError(f"radius of upsampler 'guided' must be an integer, got {radius!r}")
        if not 1 <= radius <= 16:
            raise ValueError(f"radius of upsampler 'guided' must be in 1..16 patches, got {radius}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)):
            raise TypeError(f"eps of upsampler 'guided' must be a number, got {eps!r}")
        if not (math.isfinite(eps) and 1e-8 <= eps <= 1e4):
            raise ValueError(f"eps of upsampler 'guided' must be in 1e-8..1e4, got {eps!r}")
        if guide not in GUIDES:
            raise ValueError(f"guide of upsampler 'guided' must be one of {GUIDES}, got {guide!r}")
        self.radius = int(radius)
        self.eps = float(eps)
        self.guide = str(guide)

    def context(self, factor: int) -> int:
        """Two box filters of ``radius`` patches: ``2 radius`` patches of context."""
        return 2 * self.radius * int(factor)

    def get_options(self) -> dict[str, Any]:
        return {"radius": self.radius, "eps": self.eps, "guide": self.guide}

    def upsample(self, features: np.ndarray, guide: np.ndarray, factor: int) -> np.ndarray:
        f = np.asarray(features, dtype=np.float32)
        g = np.asarray(guide, dtype=np.float32)
        k = int(factor)
        if f.ndim != 3 or g.ndim != 3 or g.shape[-2:] != (f.shape[1] * k, f.shape[2] * k):
            raise ValueError(
                f"upsampler 'guided': features {f.shape} and guide {g.shape} do not match "
                f"at factor {k}; expected (F, h, w) and (C, h*{k}, w*{k})"
            )
        if self.guide == "mean" or g.shape[0] == 1:
            g = g.mean(axis=0, keepdims=True, dtype=np.float32) if g.shape[0] > 1 else g
        elif g.shape[0] != 3:
            raise ValueError(
                f"upsampler 'guided' with guide='rgb' needs a 1- or 3-channel guide, "
                f"got {g.shape[0]} channels"
            )
        a, b = self.coefficients(f, g, k)
        return _apply(a, b, g, k)

    def coefficients(
        self, features: np.ndarray, guide: np.ndarray, factor: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Window-averaged linear coefficients at patch resolution: ``a`` (C, F, h, w) and
        ``b`` (F, h, w), float32, for a (C, H, W) guide of C = 1 or 3 channels."""
        r, k = self.radius, factor
        n = guide.shape[0]
        p = features.astype(np.float64)
        m1 = downscale(guide, k).astype(np.float64)  # (C, h, w): each patch's guide mean
        pairs = [(i, j) for i in range(n) for j in range(i, n)]
        m2 = np.stack([downscale(guide[i] * guide[j], k) for i, j in pairs]).astype(np.float64)
        mean_i = _box(m1, r)
        corr_ii = _box(m2, r)
        mean_p = _box(p, r)
        cov_ip = np.stack([_box(m1[c] * p, r) - mean_i[c] * mean_p for c in range(n)])
        sigma = {
            (i, j): corr_ii[q] - mean_i[i] * mean_i[j] + (self.eps if i == j else 0.0)
            for q, (i, j) in enumerate(pairs)
        }
        a = cov_ip / sigma[0, 0] if n == 1 else _solve3(sigma, cov_ip)
        b = mean_p - np.einsum("chw,cfhw->fhw", mean_i, a)
        return _box(a, r).astype(np.float32), _box(b, r).astype(np.float32)


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over (2r + 1)^2 windows of the last two axes, edges replicated; sums in a fixed
    order (one shifted slice after the other), so equal inputs give equal outputs
    wherever they lie in the array."""
    h, w = x.shape[-2:]
    lead = [(0, 0)] * (x.ndim - 2)
    padded = np.pad(x, [*lead, (r, r), (r, r)], mode="edge")
    rows = padded[..., 0:h, :].copy()
    for d in range(1, 2 * r + 1):
        rows += padded[..., d : d + h, :]
    out = rows[..., 0:w].copy()
    for d in range(1, 2 * r + 1):
        out += rows[..., d : d + w]
    out /= (2 * r + 1) ** 2
    return out


def _solve3(sigma: dict[tuple[int, int], np.ndarray], rhs: np.ndarray) -> np.ndarray:
    """(Sigma)^-1 rhs per patch for symmetric 3x3 Sigma given by its upper triangle
    (cofactors: the same arithmetic for every patch)."""
    s00, s01, s02 = sigma[0, 0], sigma[0, 1], sigma[0, 2]
    s11, s12, s22 = sigma[1, 1], sigma[1, 2], sigma[2, 2]
    c00 = s11 * s22 - s12 * s12
    c01 = s02 * s12 - s01 * s22
    c02 = s01 * s12 - s02 * s11
    c11 = s00 * s22 - s02 * s02
    c12 = s01 * s02 - s00 * s12
    c22 = s00 * s11 - s01 * s01
    det = s00 * c00 + s01 * c01 + s02 * c02
    inv = [[c00, c01, c02], [c01, c11, c12], [c02, c12, c22]]
    return np.stack([sum(inv[i][j] / det * rhs[j] for j in range(3)) for i in range(3)])


def _apply(a: np.ndarray, b: np.ndarray, guide: np.ndarray, k: int) -> np.ndarray:
    """``q = up(a) * I + up(b)`` at pixel resolution, ``CHUNK`` features at a time; the
    compiled kernel and the NumPy path give the same numbers (tested)."""
    n_features, (height, width) = b.shape[0], guide.shape[-2:]
    out = np.empty((n_features, height, width), np.float32)
    kernel = _kernel()
    if kernel is None:
        tmp = np.empty((min(CHUNK, n_features), height, width), np.float32)
    else:
        lo, hi, weight = _linear_taps(b.shape[-1], k)
        rows_a = np.empty((a.shape[0], min(CHUNK, n_features), height, b.shape[-1]), np.float32)
        rows_b = np.empty((min(CHUNK, n_features), height, b.shape[-1]), np.float32)
    for first in range(0, n_features, CHUNK):
        last = min(first + CHUNK, n_features)
        dst = out[first:last]
        if kernel is not None:  # rows interpolated here, then one pass over the pixels
            ra, rb = rows_a[:, : last - first], rows_b[: last - first]
            _interp_axis(b[first:last], k, 1, 0, rb)
            _interp_axis(a[:, first:last], k, 2, 0, ra)
            kernel(ra, rb, guide, lo, hi, weight, dst)
            continue
        t = tmp[: last - first]
        upsample_into(b[first:last], k, (0, 0), dst)
        for c in range(guide.shape[0]):
            upsample_into(a[c, first:last], k, (0, 0), t)
            t *= guide[c]
            dst += t
    return out


def _combine(rows_a, rows_b, guide, lo, hi, weight, out):  # pragma: no cover (numba)
    """out[f, y] = lerp(rows_b[f, y]) + sum_c lerp(rows_a[c, f, y]) * guide[c, y]: the
    arithmetic and order of the NumPy path, row by row."""
    n_guide, n_features, height, width = rows_a.shape[0], out.shape[0], out.shape[1], out.shape[2]
    for f in range(n_features):
        for y in range(height):
            rb, o = rows_b[f, y], out[f, y]
            for x in range(width):
                i, j, w = lo[x], hi[x], weight[x]
                o[x] = (rb[j] - rb[i]) * w + rb[i]
            for c in range(n_guide):
                ra, g = rows_a[c, f, y], guide[c, y]
                for x in range(width):
                    i, j, w = lo[x], hi[x], weight[x]
                    o[x] = o[x] + ((ra[j] - ra[i]) * w + ra[i]) * g[x]


_COMPILING = threading.Lock()


def _kernel():
    with _COMPILING:  # tiles in threads ask for it at once on first use
        return _compiled()


@cache
def _compiled():
    return jit.compile(_combine)


@hookimpl
def convpaint_upsamplers() -> list[type[FeatureUpsampler]]:
    return [GuidedUpsampler]
