"""Units of featurisation: the normalised planes (or volumes) a call needs, eager or lazy.

In memory a unit holds a normalised float32 copy of its plane; for a dask or
zarr input it holds the same normalisation as a lazy expression, which tiles
read a block at a time.  Statistics cover only the planes the call needs
(``normalize="image"``) or the whole stack (``"stack"``), with the same numbers
on either path (:func:`convpaint.normalize.moments`, :func:`convpaint.lazy.moments`).

Eager units are kept in the model's feature cache, keyed by a hash of the pixels
their normalisation reads: the interactive loop trains and segments the same
image after every stroke, and hashing its raw pixels costs a fraction of
normalising and hashing the float32 copy again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cache import FeatureCache, Unit
from .inputs import is_lazy
from .lazy import check_finite_lazy, moments
from .normalize import normalize


def make_units(
    canon: Any,
    mode: str,
    volumetric: bool,
    t: slice = slice(None),
    z: slice = slice(None),
    planes: list[tuple[int, int]] | None = None,
    cache: FeatureCache | None = None,
) -> list[Unit]:
    """Normalised units of ``canon[t, z]`` ((T, Z, C, Y, X)), or of the (t, z) ``planes``
    only (per-plane units); volumetric units hold every Z plane of a time point.

    With ``cache``, eager units come from it when the same pixels were normalised the
    same way before (and go into it when they are small beside its budget)."""
    if volumetric:
        planes = None
        z = slice(None)
    if is_lazy(canon):
        return _lazy_units(canon, mode, volumetric, t, z, planes)
    key = _cache_key(canon, mode, volumetric, t, z, planes, cache)
    if key is not None and cache is not None:
        cached = cache.get(key, count=False)
        if isinstance(cached, CachedUnits):
            return list(cached.units)
    units = _eager_units(canon, mode, volumetric, t, z, planes)
    if key is not None and cache is not None:
        cache.put(key, CachedUnits(tuple(units)))
    return units


@dataclass(frozen=True)
class CachedUnits:
    """Normalised units as a feature-cache entry (read-only once stored)."""

    units: tuple[Unit, ...]

    @property
    def nbytes(self) -> int:
        return sum(u.source.nbytes for u in self.units if u.source is not None)

    def freeze(self) -> None:
        for u in self.units:
            if u.source is not None:
                u.source.flags.writeable = False
                u.data.flags.writeable = False


# normalised units are cached only up to this share of the cache's budget (features first)
CACHED_UNITS_SHARE = 1 / 8


def _cache_key(canon, mode, volumetric, t, z, planes, cache) -> tuple | None:
    """Cache key of the units: a hash of the raw pixels their normalisation reads (the
    selected planes, or the whole stack for ``"stack"``), or None (no cache, too large)."""
    if cache is None or not cache.max_bytes:
        return None
    nt, nz = canon.shape[:2]
    if planes is None:
        selected = [(i, j) for i in range(*t.indices(nt)) for j in range(*z.indices(nz))]
    else:
        selected = list(planes)
    size = 4 * len(selected) * int(np.prod(canon.shape[2:]))  # float32 copies
    if size > cache.max_bytes * CACHED_UNITS_SHARE:
        return None
    read = [(i, j) for i in range(nt) for j in range(nz)] if mode == "stack" else selected
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((canon.dtype.str, canon.shape, mode, volumetric, planes is None)).encode())
    h.update(repr(selected).encode())
    for i, j in read:
        h.update(np.ascontiguousarray(canon[i, j]).data)
    return ("normalised units", h.hexdigest())


def _eager_units(canon, mode, volumetric, t, z, planes) -> list[Unit]:
    if planes is not None:
        norm = normalize(canon, mode, planes=planes)
        return [Unit(tz, norm[i, 0], norm[i, 0]) for i, tz in enumerate(planes)]
    t0, z0 = t.indices(canon.shape[0])[0], z.indices(canon.shape[1])[0]
    norm = normalize(canon, mode, t, z)
    units = []
    for i in range(norm.shape[0]):
        if volumetric:  # (C, Z, Y, X)
            units.append(Unit((t0 + i, slice(None)), np.moveaxis(norm[i], 1, 0), norm[i]))
        else:
            units.extend(
                Unit((t0 + i, z0 + j), norm[i, j], norm[i, j]) for j in range(norm.shape[1])
            )
    return units


def _lazy_units(canon, mode: str, volumetric: bool, t: slice, z: slice, planes) -> list[Unit]:
    nt, nz = canon.shape[:2]
    if planes is None:
        ts = range(*t.indices(nt))
        zs = range(*z.indices(nz))
        planes = [(i, j) for i in ts for j in zs]
    if mode == "none":
        check_finite_lazy(canon, planes)
        mean = std = None
    elif mode == "stack":
        mean, std = moments(canon, mode)
    else:
        mean, std = moments(canon, mode, planes)
    units = []
    for k, (i, j) in enumerate(planes):
        plane = canon[i, j].astype(np.float32)
        if mean is not None and std is not None:
            m, s = (mean[0, 0], std[0, 0]) if mode == "stack" else (mean[k, 0], std[k, 0])
            plane = (plane - m) / s
        units.append(Unit((i, j), plane, None))
    if not volumetric:
        return units
    import dask.array as da

    by_t: dict[int, list] = {}
    for u in units:
        by_t.setdefault(u.index[0], []).append(u.data)
    return [Unit((i, slice(None)), da.stack(p, axis=1), None) for i, p in by_t.items()]
