"""Sampled Gaussian derivative kernels with fastfilters2/ilastik conventions.

A kernel of derivative ``order`` (0, 1, 2) at scale ``sigma`` has radius
``ceil((3 + 0.5 * order) * sigma)``; order 2 has its DC component removed; every
kernel is normalised numerically so that it reproduces the exact derivative of
a polynomial of that order. The scipy backend uses these kernels, which is why
it agrees with fastfilters2 up to float32 rounding.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def kernel_radius(sigma: float, order: int = 0) -> int:
    """Half-width of the sampled kernel (taps on each side of the centre)."""
    return max(1, math.ceil((3.0 + 0.5 * order) * sigma))


@lru_cache(maxsize=256)
def _kernel(sigma: float, order: int) -> np.ndarray:
    radius = kernel_radius(sigma, order)
    x = np.arange(radius + 1, dtype=np.float64)
    inv_s2 = 1.0 / (sigma * sigma)
    norm = 1.0 / (math.sqrt(2.0 * math.pi) * sigma)
    if order > 0:
        norm = -norm * inv_s2
    g = norm * np.exp(-0.5 * x * x * inv_s2)
    if order == 0:
        half = g
    elif order == 1:
        half = g * x
    elif order == 2:
        half = g * (1.0 - x * x * inv_s2)
        half = half - (half[0] + 2.0 * half[1:].sum()) / (2 * radius + 1)
    else:
        raise ValueError(f"derivative order must be 0, 1 or 2, got {order}")
    if order == 0:
        total = half[0] + 2.0 * half[1:].sum()
    elif order == 1:
        total = 2.0 * (half[1:] * x[1:]).sum()
    else:
        total = (half[1:] * x[1:] ** 2).sum()
    half = (half / total).astype(np.float32)  # fastfilters2 stores float32 taps
    sign = -1.0 if order == 1 else 1.0
    full = np.concatenate([sign * half[:0:-1], half]).astype(np.float64)
    full.setflags(write=False)
    return full


def gaussian_kernel(sigma: float, order: int = 0) -> np.ndarray:
    """Correlation weights of length ``2 * radius + 1`` (read-only, float64)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return _kernel(float(sigma), int(order))
