"""Tensor helpers of CNN extractors: planar copies, shift-exact bilinear upsampling, halos.

Strided feature maps of a CNN (``vgg16``, ``efficientnet``, ``convnext``) are brought back
to pixel resolution with :func:`upsample_bilinear`; :func:`bilinear_halo` is the context
their upsampled features need around a tile.  torch is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["bilinear_halo", "to_planar", "upsample_bilinear"]


def to_planar(features: torch.Tensor) -> torch.Tensor:
    """(1, C, h, w) in any memory format -> contiguous (C, h, w).

    For channels-last input this goes through a 2-D transpose, which torch
    copies blockwise (much faster than a generic 4-D permuted copy on CPU).
    """
    _, c, h, w = features.shape
    hwc = features[0].permute(1, 2, 0)
    if not hwc.is_contiguous():
        return features[0].contiguous()
    return hwc.reshape(h * w, c).T.contiguous().view(c, h, w)


def upsample_bilinear(features: torch.Tensor, factor: int) -> torch.Tensor:
    """(C, h, w) -> (C, h*factor, w*factor), bilinear, align_corners=False, edges clamped.

    Equivalent to ``F.interpolate(..., scale_factor=factor, mode="bilinear")`` up to
    rounding, but every output pixel with the same phase (y % factor, x % factor)
    is computed by the same float operations, so shifting the input by a multiple
    of ``factor`` shifts the output bit-identically (torch's CPU kernel is not
    position independent at the ulp level).
    """
    import torch

    for dim in (1, 2):
        n = features.shape[dim]
        edged = torch.cat(
            [features.narrow(dim, 0, 1), features, features.narrow(dim, n - 1, 1)], dim
        )  # edged[k + 1] = features[clamp(k)]
        phases = []
        for phase in range(factor):
            t = (phase + 0.5) / factor - 0.5  # source offset of this phase, in (-0.5, 0.5)
            first = 0 if t < 0 else 1  # index into `edged` of floor(t) + 1
            weight = t - (first - 1)  # exact: a multiple of 1 / (2 * factor)
            a = edged.narrow(dim, first, n)
            b = edged.narrow(dim, first + 1, n)
            phases.append(a * (1.0 - weight) + b * weight)
        features = torch.stack(phases, dim + 1).flatten(dim, dim + 1)
    return features


def bilinear_halo(reaches: Iterable[tuple[int, int, int]]) -> int:
    """Input pixels around an output pixel that its upsampled features depend on.

    ``reaches``: per feature map ``(lo, hi, stride)``, its output pixel j reading input
    pixels ``stride * j + lo .. stride * j + hi``.  Includes the bilinear upsampling
    (align_corners=False, factor s = stride): full-resolution pixel y reads stride-s pixels
    floor((y + .5)/s - .5) and the next one.  Rounded up to a multiple of the largest
    stride, so that halo-shifted tile origins stay on the stride grid.
    """
    need, align = 0, 1
    for lo, hi, s in reaches:
        if s == 1:
            left, right = -lo, hi
        else:  # s * j_min > y + .5 - 1.5 s  and  s * j_max <= y + .5 + .5 s  (s even)
            left, right = 3 * s // 2 - 1 - lo, s // 2 + hi
        need, align = max(need, left, right), max(align, s)
    return -(-need // align) * align
