"""OpenCV backend for 2-D planes: the filter bank of :mod:`convpaint_ilastik.filters`
with ``cv2.sepFilter2D``.

Same kernels (:mod:`convpaint_ilastik.kernels`), same cascade and same borders
as the scipy backend: ``BORDER_REFLECT_101`` is scipy's ``mirror``, and
mirroring the input of a separable filter equals mirroring each of its passes.
OpenCV accumulates in float32 (scipy in float64), so values differ by a few
float32 ulps (``tests/test_opencv_backend.py`` bounds them). OpenCV releases
the GIL, so the core's tile threads filter planes on every core; the
eigenvalues and other pointwise steps are numpy ufuncs, which release it too.

``sepFilter2D`` computes the last ``< 2 * SIMD width`` columns of a row with
scalar code whose rounding differs from the vector loop's; every call
therefore appends at least :data:`MIN_TAIL` mirrored columns and drops them
afterwards, so each kept pixel comes from the vector loop and features do not
depend on the plane's extent (tiled == untiled, bit for bit).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from types import ModuleType

import numpy as np

from .filters import DOG_RATIO, FILTERS, ST_OUTER_RATIO, _grow
from .kernels import gaussian_kernel, kernel_radius

#: columns appended on the right of every ``sepFilter2D`` input (>= 2 AVX-512 vectors)
MIN_TAIL = 64
#: derivative orders (x, y) of the 2-D filters: x along the last axis
G, GX, GY, GXX, GXY, GYY = (0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)


@lru_cache(maxsize=1)
def module() -> ModuleType | None:
    """The ``cv2`` module, or None when OpenCV is not installed."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2 if hasattr(cv2, "sepFilter2D") else None


def available() -> bool:
    """Whether the OpenCV backend can be used."""
    return module() is not None


@lru_cache(maxsize=256)
def _taps(sigma: float, order: int) -> np.ndarray:
    # the taps are float32 values already (kernels.py rounds them): no loss here
    k = gaussian_kernel(sigma, order).astype(np.float32)
    k.setflags(write=False)
    return k


def correlate(a: np.ndarray, sigma: float, order: tuple[int, int]) -> np.ndarray:
    """Separable Gaussian derivative of a 2-D float32 array, ``order`` = (along x, along y).

    Equals ``scipy.ndimage.correlate1d`` along x then y with ``mode="mirror"``
    up to float32 rounding; bit-identical for a pixel whatever the array's extent,
    as long as the pixel's kernel support is inside the array.
    """
    cv2 = module()
    if cv2 is None:
        raise ImportError("OpenCV is not installed (pip install 'convpaint-ilastik[fast]')")
    kx, ky = _taps(sigma, order[0]), _taps(sigma, order[1])
    w = a.shape[1]
    tail = max(MIN_TAIL, len(kx) // 2)
    padded = cv2.copyMakeBorder(a, 0, 0, 0, tail, cv2.BORDER_REFLECT_101)
    out = cv2.sepFilter2D(padded, cv2.CV_32F, kx, ky, borderType=cv2.BORDER_REFLECT_101)
    return out[:, :w]


def eigenvalues2(xx: np.ndarray, xy: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Descending eigenvalues of 2 x 2 symmetric matrices: (2, *xx.shape) float32.

    The arithmetic of :func:`convpaint_ilastik.filters.eigenvalues` (same
    results), with two temporaries instead of eight.
    """
    half = np.float32(0.5)
    out = np.empty((2, *xx.shape), np.float32)
    np.add(xx, yy, out=out[1])
    np.multiply(out[1], half, out=out[1])  # half trace
    dist = np.subtract(xx, yy)
    np.multiply(dist, half, out=dist)
    np.multiply(dist, dist, out=dist)
    off = np.multiply(xy, xy)
    np.add(dist, off, out=dist)
    np.sqrt(dist, out=dist)  # half distance between the eigenvalues
    np.add(out[1], dist, out=out[0])
    np.subtract(out[1], dist, out=out[1])
    return out


def _reach(filters: tuple[str, ...], sigma: float) -> tuple[int, int]:
    """(derivative kernel radius, extra halo of the structure tensor) at ``sigma``."""
    order = 0
    if {"gaussian_gradient_magnitude", "structure_tensor_eigenvalues"} & set(filters):
        order = 1
    if {"laplacian_of_gaussian", "hessian_of_gaussian_eigenvalues"} & set(filters):
        order = 2
    st = "structure_tensor_eigenvalues" in filters
    return kernel_radius(sigma, order), kernel_radius(ST_OUTER_RATIO * sigma, 0) if st else 0


def filter_bank(
    x: np.ndarray,
    filters: tuple[str, ...],
    sigmas: tuple[float, ...],
    crop: tuple[slice, ...] | None = None,
) -> Iterator[tuple[str, float, np.ndarray]]:
    """Yield ``(filter, sigma, (components, *x[crop].shape) float32)`` for a 2-D array.

    Same order and meaning as :func:`convpaint_ilastik.filters.filter_bank`;
    each scale filters only the part of ``x`` that ``crop`` needs at that scale.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"the OpenCV backend takes 2-D planes, got shape {x.shape}")
    bad = [f for f in filters if f not in FILTERS]
    if bad:
        raise ValueError(f"unknown filter {bad[0]!r}; allowed: {', '.join(FILTERS)}")
    crop, _ = _grow(crop or (slice(None),) * 2, x.shape, 0)
    for sigma in sigmas:
        yield from _at_scale(x, filters, float(sigma), crop)


def _at_scale(
    x: np.ndarray, filters: tuple[str, ...], sigma: float, crop: tuple[slice, ...]
) -> Iterator[tuple[str, float, np.ndarray]]:
    radius, st_halo = _reach(filters, sigma)
    # keep: where derivatives are needed (the structure tensor smooths them further);
    # window: the part of x those derivatives read
    keep, inner = _grow(crop, x.shape, st_halo)
    window, keep_in_window = _grow(keep, x.shape, radius)
    xs = np.ascontiguousarray(x[window])
    crop_in_window = tuple(
        slice(c.start - w.start, c.stop - w.start) for c, w in zip(crop, window, strict=True)
    )
    need: set[tuple[int, int]] = set()
    if {"gaussian", "difference_of_gaussians"} & set(filters):
        need.add(G)
    if {"gaussian_gradient_magnitude", "structure_tensor_eigenvalues"} & set(filters):
        need |= {GX, GY}
    if "laplacian_of_gaussian" in filters:
        need |= {GXX, GYY}
    if "hessian_of_gaussian_eigenvalues" in filters:
        need |= {GXX, GXY, GYY}
    full = {o: correlate(xs, sigma, o) for o in sorted(need)}
    d = {o: a[crop_in_window] for o, a in full.items()}
    for name in filters:
        if name == "gaussian":
            out = d[G][None]
        elif name == "difference_of_gaussians":
            small = correlate(xs, DOG_RATIO * sigma, G)[crop_in_window]
            out = (d[G] - small)[None]
        elif name == "laplacian_of_gaussian":
            out = (d[GXX] + d[GYY])[None]
        elif name == "gaussian_gradient_magnitude":
            out = np.sqrt(d[GX] * d[GX] + d[GY] * d[GY])[None]
        elif name == "hessian_of_gaussian_eigenvalues":
            # axis order (y, x) as in filters.py: entry (0, 0) is d2/dy2
            out = eigenvalues2(d[GYY], d[GXY], d[GXX])
        else:  # structure_tensor_eigenvalues
            gy, gx = (np.ascontiguousarray(full[o][keep_in_window]) for o in (GY, GX))
            outer = ST_OUTER_RATIO * sigma
            products = ((gy, gy), (gy, gx), (gx, gx))  # entries (y, y), (y, x), (x, x)
            out = eigenvalues2(*(correlate(a * b, outer, G)[inner] for a, b in products))
        yield name, sigma, out


__all__ = ["MIN_TAIL", "available", "correlate", "eigenvalues2", "filter_bank", "module"]
