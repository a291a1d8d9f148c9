"""Shared test data for convpaint-ilastik."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Float32 noise with some structure at several scales."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    return (x + 4 * ndimage.gaussian_filter(x, 2.0)).astype(np.float32)
