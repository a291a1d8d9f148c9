"""The ilastik filter bank in scipy.ndimage, for 2-D planes and 3-D volumes.

Every filter is a cascade of separable 1-D correlations with the kernels of
:mod:`convpaint_ilastik.kernels`; per-pixel arithmetic does not depend on the
pixel's position, so interior results are independent of the array's extent.
Conventions (those of ilastik / fastfilters2):

* ``gaussian``: Gaussian smoothing at ``sigma``.
* ``laplacian_of_gaussian``: sum of the second derivatives.
* ``gaussian_gradient_magnitude``: L2 norm of the first derivatives.
* ``difference_of_gaussians``: ``G(sigma) - G(0.66 * sigma)``.
* ``structure_tensor_eigenvalues``: gradient at ``sigma``, outer products
  smoothed at ``0.5 * sigma``; eigenvalues in descending order.
* ``hessian_of_gaussian_eigenvalues``: Hessian at ``sigma``; eigenvalues in
  descending order.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .kernels import gaussian_kernel, kernel_radius

FILTERS: tuple[str, ...] = (
    "gaussian",
    "laplacian_of_gaussian",
    "gaussian_gradient_magnitude",
    "difference_of_gaussians",
    "structure_tensor_eigenvalues",
    "hessian_of_gaussian_eigenvalues",
)
DOG_RATIO = 0.66
ST_OUTER_RATIO = 0.5
_EIG_CHUNK = 1 << 16


def n_components(name: str, ndim: int) -> int:
    """Output channels of one filter at one scale (eigenvalue filters: ``ndim``)."""
    return ndim if name.endswith("eigenvalues") else 1


def filter_radius(name: str, sigma: float) -> int:
    """Receptive-field halo of one filter at one scale, in pixels."""
    if name == "gaussian" or name == "difference_of_gaussians":
        return kernel_radius(sigma, 0)
    if name == "gaussian_gradient_magnitude":
        return kernel_radius(sigma, 1)
    if name == "structure_tensor_eigenvalues":
        return kernel_radius(sigma, 1) + kernel_radius(ST_OUTER_RATIO * sigma, 0)
    return kernel_radius(sigma, 2)  # laplacian, hessian


def _corr(a: np.ndarray, sigma: float, order: int, axis: int) -> np.ndarray:
    from scipy import ndimage

    out = np.empty(a.shape, np.float32)
    ndimage.correlate1d(a, gaussian_kernel(sigma, order), axis=axis, output=out, mode="mirror")
    return out


def _derivatives(
    x: np.ndarray, sigma: float, orders: list[tuple[int, ...]], keep: tuple[slice, ...]
) -> dict[tuple[int, ...], np.ndarray]:
    """Separable Gaussian derivatives ``orders`` (one order per axis) on ``x[keep]``.

    Passes run along the last axis first and are shared between orders; after
    its pass an axis is cropped to ``keep``, so later passes touch only what is
    needed (correlation along one axis does not mix positions along the others).
    """
    ndim = x.ndim
    cache: dict[tuple[int, ...], np.ndarray] = {(): x}

    def get(prefix: tuple[int, ...]) -> np.ndarray:
        # prefix holds the orders of the last len(prefix) axes
        if prefix not in cache:
            axis = ndim - len(prefix)
            out = _corr(get(prefix[1:]), sigma, prefix[0], axis)
            # a compact copy of the kept part frees the uncropped pass at once
            cache[prefix] = np.ascontiguousarray(out[(slice(None),) * axis + (keep[axis],)])
        return cache[prefix]

    result = {o: get(o) for o in orders}
    cache.clear()  # ``get`` refers to itself: free the passes now, not at the next gc
    return result


def _smooth(x: np.ndarray, sigma: float, keep: tuple[slice, ...]) -> np.ndarray:
    zero = (0,) * x.ndim
    return _derivatives(x, sigma, [zero], keep)[zero]


def _grow(crop: tuple[slice, ...], shape: tuple[int, ...], halo: int):
    """``crop`` widened by ``halo`` (clipped to ``shape``), and ``crop`` relative to it."""
    keep, inner = [], []
    for sl, n in zip(crop, shape, strict=True):
        start, stop, _ = sl.indices(n)
        lo, hi = max(0, start - halo), min(n, stop + halo)
        keep.append(slice(lo, hi))
        inner.append(slice(start - lo, stop - lo))
    return tuple(keep), tuple(inner)


def _unit(ndim: int, *axes: int) -> tuple[int, ...]:
    o = [0] * ndim
    for a in axes:
        o[a] += 1
    return tuple(o)


def eigenvalues(t: dict[tuple[int, int], np.ndarray], ndim: int) -> np.ndarray:
    """Descending eigenvalues of a symmetric tensor field given by its upper entries."""
    if ndim == 2:
        xx, xy, yy = t[0, 0], t[0, 1], t[1, 1]
        half_trace = (xx + yy) * np.float32(0.5)
        d = (xx - yy) * np.float32(0.5)
        half_dist = np.sqrt(d * d + xy * xy)
        return np.stack([half_trace + half_dist, half_trace - half_dist])
    out = np.empty((ndim, *t[0, 0].shape), np.float32)
    for k in range(out.shape[1]):  # plane by plane: float64 matrices of one plane only
        plane = {key: v[k].reshape(-1) for key, v in t.items()}
        n = plane[0, 0].size
        m = np.empty((n, ndim, ndim), np.float64)
        for i in range(ndim):
            for j in range(i, ndim):
                m[:, i, j] = m[:, j, i] = plane[i, j]
        ev = np.empty((n, ndim), np.float32)
        for s in range(0, n, _EIG_CHUNK):  # LAPACK per matrix: position independent
            ev[s : s + _EIG_CHUNK] = np.linalg.eigvalsh(m[s : s + _EIG_CHUNK])[:, ::-1]
        out[:, k] = ev.T.reshape((ndim, *out.shape[2:]))
    return out


def filter_bank(
    x: np.ndarray,
    filters: tuple[str, ...],
    sigmas: tuple[float, ...],
    crop: tuple[slice, ...] | None = None,
) -> Iterator[tuple[str, float, np.ndarray]]:
    """Yield ``(filter, sigma, (components, *x[crop].shape) float32)`` for a 2-D or 3-D array.

    Order: per sigma, filters in the order given. ``x`` is filtered with mirror
    boundaries (callers that need boundary-independent results pad first);
    passes and pointwise steps only compute what ``crop`` needs.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    nd = x.ndim
    crop, _ = _grow(crop or (slice(None),) * nd, x.shape, 0)
    for sigma in sigmas:  # one scale at a time: its derivatives are freed before the next
        yield from _at_scale(x, filters, sigma, crop)


def _at_scale(
    x: np.ndarray, filters: tuple[str, ...], sigma: float, crop: tuple[slice, ...]
) -> Iterator[tuple[str, float, np.ndarray]]:
    nd = x.ndim
    pairs = [(i, j) for i in range(nd) for j in range(i, nd)]
    orders: set[tuple[int, ...]] = set()
    if {"gaussian", "difference_of_gaussians"} & set(filters):
        orders.add(_unit(nd))
    if {"gaussian_gradient_magnitude", "structure_tensor_eigenvalues"} & set(filters):
        orders.update(_unit(nd, a) for a in range(nd))
    if "laplacian_of_gaussian" in filters:
        orders.update(_unit(nd, a, a) for a in range(nd))
    if "hessian_of_gaussian_eigenvalues" in filters:
        orders.update(_unit(nd, i, j) for i, j in pairs)
    # the structure tensor smooths gradient products: gradients needed on a wider box
    halo = kernel_radius(ST_OUTER_RATIO * sigma, 0)
    keep, inner = _grow(crop, x.shape, halo if "structure_tensor_eigenvalues" in filters else 0)
    full = _derivatives(x, sigma, sorted(orders), keep)
    d = {o: a[inner] for o, a in full.items()}
    grad = [d.get(_unit(nd, a)) for a in range(nd)]
    for name in filters:
        if name == "gaussian":
            out = d[_unit(nd)][None]
        elif name == "difference_of_gaussians":
            out = (d[_unit(nd)] - _smooth(x, DOG_RATIO * sigma, crop))[None]
        elif name == "laplacian_of_gaussian":
            out = sum(d[_unit(nd, a, a)] for a in range(nd))[None]
        elif name == "gaussian_gradient_magnitude":
            out = np.sqrt(sum(g * g for g in grad))[None]
        elif name == "hessian_of_gaussian_eigenvalues":
            out = eigenvalues({(i, j): d[_unit(nd, i, j)] for i, j in pairs}, nd)
        elif name == "structure_tensor_eigenvalues":
            outer = ST_OUTER_RATIO * sigma
            g = [full[_unit(nd, a)] for a in range(nd)]
            t = {(i, j): _smooth(g[i] * g[j], outer, inner) for i, j in pairs}
            out = eigenvalues(t, nd)
        else:
            raise ValueError(f"unknown filter {name!r}; allowed: {', '.join(FILTERS)}")
        yield name, sigma, out.astype(np.float32, copy=False)


def max_radius(filters: tuple[str, ...], sigmas: tuple[float, ...]) -> int:
    """Receptive-field halo of a whole bank."""
    return max((filter_radius(f, s) for f in filters for s in sigmas), default=0)


__all__ = ["FILTERS", "filter_bank", "filter_radius", "max_radius", "n_components"]
