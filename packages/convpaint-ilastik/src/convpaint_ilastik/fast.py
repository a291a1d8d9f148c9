"""Guarded fastfilters2 backend for 2-D planes.

``fastfilters2.compute_filters(plane, sigma)`` returns, for one scale, the
seven channels ``[gaussian, gradient magnitude, laplacian, hessian ev1, ev2,
structure-tensor ev1, ev2]`` with the same kernels and conventions as
:mod:`convpaint_ilastik.filters` (they agree to ~1e-6). The library reads
and writes out of bounds -- and may crash the process -- when the last axis is
narrower than its SIMD batch (128 floats with AVX-512) or when a kernel radius
reaches past the mirrored border. :func:`compute_filters` therefore only ever
passes arrays at least :data:`MIN_WIDTH` wide and at least ``2 * radius + 1``
along both axes, mirror-padding smaller ones first and cropping afterwards.
Values within :func:`safe_radius` of the border therefore depend on whether
the guard padded (mirroring the input differs from fastfilters2's per-pass
mirroring for the structure tensor); the extractor pads every plane itself
and only keeps pixels farther from the border.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from types import ModuleType

import numpy as np

from .kernels import kernel_radius

MIN_WIDTH = 128
#: fastfilters2 deadlocks when called from two threads at once (the core featurises
#: tiles on a thread pool), so every call goes through this lock.
_LOCK = threading.Lock()
#: ``compute_filters`` channel index of each filter it provides
CHANNELS: dict[str, tuple[int, ...]] = {
    "gaussian": (0,),
    "gaussian_gradient_magnitude": (1,),
    "laplacian_of_gaussian": (2,),
    "hessian_of_gaussian_eigenvalues": (3, 4),
    "structure_tensor_eigenvalues": (5, 6),
}


@lru_cache(maxsize=1)
def module() -> ModuleType | None:
    """The ``fastfilters2`` module, or None when it is not installed."""
    try:
        import fastfilters2
    except ImportError:
        return None
    return fastfilters2 if hasattr(fastfilters2, "compute_filters") else None


def available() -> bool:
    """Whether the fastfilters2 backend can be used."""
    return module() is not None


def safe_radius(sigma: float) -> int:
    """Largest reach of ``compute_filters`` at ``sigma`` (hessian kernel or structure tensor)."""
    return max(kernel_radius(sigma, 2), kernel_radius(sigma, 1) + kernel_radius(0.5 * sigma, 0))


def compute_filters(plane: np.ndarray, sigma: float) -> np.ndarray:
    """``fastfilters2.compute_filters`` on a 2-D plane of any size: (7, H, W) float32."""
    ff = module()
    if ff is None:
        raise ImportError("fastfilters2 is not installed (pip install 'convpaint-ilastik[fast]')")
    plane = np.ascontiguousarray(plane, dtype=np.float32)
    if plane.ndim != 2:
        raise ValueError(f"fastfilters2 takes 2-D planes, got shape {plane.shape}")
    h, w = plane.shape
    need = safe_radius(sigma) + 1
    py = max(0, math.ceil((2 * need + 1 - h) / 2))
    px = max(0, math.ceil((max(MIN_WIDTH, 2 * need + 1) - w) / 2))
    if py or px:
        padded = np.ascontiguousarray(np.pad(plane, ((py, py), (px, px)), mode="reflect"))
        with _LOCK:
            out = ff.compute_filters(padded, float(sigma))
        return np.ascontiguousarray(out[:, py : py + h, px : px + w])
    with _LOCK:
        return ff.compute_filters(plane, float(sigma))
