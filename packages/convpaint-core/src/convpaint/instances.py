"""Semantic labels -> instance ids: one integer per object (0 = background).

Every object class is separated on its own, so an instance never spans two classes:
small holes are filled, the class mask is cut into connected components and, with
``split_touching``, touching objects are split by a distance-transform watershed (one
basin per local maximum of the distance to the background; neighbouring basins merge
unless both peaks rise ``split_depth`` above the saddle between them: the h-maxima
criterion, so that one round object with a ragged border gives one id); fragments below
``min_size`` join the instance of the same class they share most border with, or are
dropped when they touch none.

A stack (``TYX``, ``ZYX`` with ``per_plane=True``, ``TZYX``) is processed plane by plane,
a volume (axes with Z, ``per_plane=False``) in 3-D (3-D connectivity and distance, with
``spacing`` for anisotropic voxels).  Ids are consecutive over the whole output: plane
(or volume) by plane in C order, within it class by class (ascending values), within a
class in the order of the seeds (raster order).  The result is deterministic.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .inputs import as_dask, is_lazy
from .instance_split import merge_small as _merge_small  # noqa: F401 -- its old name
from .instance_split import unit_instances

__all__ = ["MAX_LAZY_UNIT", "instance_table", "to_instances"]

#: a lazy input is processed one whole plane (or volume) at a time: at most this many
#: pixels per plane/volume (the peak is ~50 bytes per pixel: ~3.4 GB)
MAX_LAZY_UNIT = 2**26
_INT32 = np.iinfo(np.int32).max


def to_instances(
    labels: Any,
    *,
    classes: Sequence[int] | None = None,
    min_size: int = 16,
    split_touching: bool = True,
    fill_holes: int | bool | None = None,
    axes: str | None = None,
    class_names: Mapping[int, str] | None = None,
    per_plane: bool | None = None,
    spacing: float | Sequence[float] | None = None,
    split_depth: float = 1.0,
) -> Any:
    """Turn a semantic label image into int32 instance ids (0 = background).

    Parameters
    ----------
    labels : integer array (NumPy, dask or zarr), e.g. the output of ``model.segment``.
    classes : class values that are objects.  Default: every class present but the
        background, which is the class ``class_names`` names "background" (any case), else 0
        when present (unlabelled / background in Convpaint's convention), else the most
        frequent class.
    min_size : objects (pixels, or voxels in 3-D) below this are merged into the touching
        instance of the same class with the longest shared border, or dropped; 0 keeps all.
    split_touching : split touching objects with a distance watershed.
    fill_holes : fill holes up to this many pixels (holes holding no other object class);
        ``True``: all, ``False``/0: none, ``None`` (default): up to ``min_size``.
    axes : letters of T, Z, Y, X ("YX" for 2-D by default; required for more dimensions).
    class_names : ``{value: name}``, used to find the background class.
    per_plane : process each YX plane on its own; default: 3-D if ``axes`` has a Z.
    spacing : voxel size, (Z, Y, X) in 3-D or (Y, X) per plane; a number: isotropic.
    split_depth : a seed must rise this far (in units of ``spacing``) above the saddle to
        its neighbour; larger values split less.

    Returns
    -------
    int32 array of the input's shape: NumPy for NumPy input, else a dask array with one
    block per plane (volume).  Lazy ids are made unique by a per-plane offset computed
    lazily: the offset of plane k is the number of instances in planes 0..k-1, so computing
    plane k alone also computes the planes before it (their ids are not kept); the ids equal
    those of the in-memory result.  The default ``classes`` of a lazy input and the check of
    float labels read the whole input once, eagerly.  A lazy plane or volume larger than
    :data:`MAX_LAZY_UNIT` pixels raises ``ValueError`` (the watershed needs it whole).
    """
    if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)):
        raise TypeError(f"min_size must be an integer, got {min_size!r}")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0 (0 keeps every object), got {min_size}")
    if not np.isfinite(split_depth) or split_depth <= 0:
        raise ValueError(f"split_depth must be a positive number, got {split_depth!r}")
    hole_size = _hole_size(fill_holes, min_size)
    names = _check_names(class_names)
    lazy = is_lazy(labels)
    arr = as_dask(labels) if lazy else np.asarray(labels)
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"labels must be an integer image, got dtype {arr.dtype}")
    axes = _check_axes(arr.shape, axes)
    if per_plane is None:
        per_plane = "Z" not in axes
    if not per_plane and "Z" not in axes:
        raise ValueError(f"per_plane=False needs a Z axis; axes are {axes!r}")
    unit_axes = "YX" if per_plane else "ZYX"
    sampling = _check_spacing(spacing, len(unit_axes))
    if kind == "f":
        _check_float(arr, lazy)
    objects = _default_classes(arr, lazy, names) if classes is None else _check_classes(classes)

    # canonical order: leading axes (T, Z when per plane) then the unit's axes
    order = [axes.index(a) for a in "TZYX" if a in axes and a not in unit_axes]
    order += [axes.index(a) for a in unit_axes]
    x = arr.transpose(order)
    lead_shape, unit_shape = x.shape[: x.ndim - len(unit_axes)], x.shape[-len(unit_axes) :]
    n_units = int(np.prod(lead_shape, dtype=np.int64))
    inverse = np.argsort(order).tolist()
    options = (objects, min_size, split_touching, hole_size, sampling, float(split_depth))

    if lazy:
        out = _lazy(x, lead_shape, unit_shape, n_units, options)
    else:
        units = x.reshape((n_units, *unit_shape))
        out = np.zeros(units.shape, np.int32)
        offset = 0
        for i in range(n_units):
            ids, n = unit_instances(units[i], *options)
            out[i] = _shift((ids, n), offset)
            offset += n
        out = out.reshape(x.shape)
    return out.transpose(inverse)


def instance_table(
    instances: Any, labels: Any | None = None, class_names: Mapping[int, str] | None = None
) -> dict[str, np.ndarray]:
    """Per instance: ``id``, ``area`` (pixels), ``centroid-*`` and ``bbox-*`` (axis order of
    the input) and, with ``labels``, its ``class`` (majority value) and ``name``."""
    from skimage.measure import regionprops_table

    names = _check_names(class_names)
    ids = np.asarray(instances)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"instances must be an integer image, got dtype {ids.dtype}")
    props = regionprops_table(ids, properties=("label", "area", "centroid", "bbox"))
    table = {"id": props.pop("label"), **props}
    if labels is not None:
        sem = np.asarray(labels)
        if sem.shape != ids.shape:
            raise ValueError(f"labels have shape {sem.shape}, instances {ids.shape}")
        fg = ids > 0
        pairs, counts = np.unique(np.stack([ids[fg], sem[fg]]), axis=1, return_counts=True)
        order = np.lexsort((-counts, pairs[0]))  # per id, the most frequent class first
        first = np.r_[True, pairs[0][order][1:] != pairs[0][order][:-1]]
        cls = pairs[1][order][first].astype(np.int64)  # ids ascending, as in the table
        table["class"] = cls
        table["name"] = np.array([names.get(c, f"class {c}") for c in cls.tolist()], dtype=object)
    return table


# -- checks -------------------------------------------------------------------------------
def _hole_size(fill_holes: int | bool | None, min_size: int) -> float:
    if fill_holes is None:
        return float(min_size)
    if isinstance(fill_holes, (bool, np.bool_)):
        return np.inf if fill_holes else 0.0
    if not isinstance(fill_holes, (int, np.integer)) or fill_holes < 0:
        raise ValueError(f"fill_holes must be True, False or a size >= 0, got {fill_holes!r}")
    return float(fill_holes)


def _check_names(class_names: Mapping[int, str] | None) -> dict[int, str]:
    if class_names is None:
        return {}
    if not isinstance(class_names, Mapping):
        raise TypeError(f"class_names must be a mapping {{value: name}}, got {class_names!r}")
    for k, v in class_names.items():
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"class_names keys must be integer class values, got {k!r}")
        if not isinstance(v, str):
            raise TypeError(f"class_names values must be strings, got {v!r} for class {k}")
    return {int(k): v for k, v in class_names.items()}


def _check_axes(shape: tuple[int, ...], axes: str | None) -> str:
    if axes is None:
        if len(shape) != 2:
            raise ValueError(
                f"labels of shape {shape}: pass axes=, e.g. 'ZYX' (volume) or 'TYX' (planes)"
            )
        return "YX"
    if not isinstance(axes, str):
        raise TypeError(f"axes must be a string such as 'ZYX', got {axes!r}")
    axes = axes.upper()
    if len(axes) != len(shape) or set(axes) - set("TZYX") or len(set(axes)) != len(axes):
        raise ValueError(
            f"axes {axes!r} do not fit labels of shape {shape}: one distinct letter of "
            "T, Z, Y, X per dimension (labels have no C axis)"
        )
    if "Y" not in axes or "X" not in axes:
        raise ValueError(f"axes {axes!r} must contain Y and X")
    return axes


def _check_spacing(spacing: float | Sequence[float] | None, ndim: int) -> tuple[float, ...]:
    if spacing is None:
        return (1.0,) * ndim
    values: Any = (spacing,) * ndim if np.isscalar(spacing) else spacing
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise TypeError(f"spacing must be numbers, got {spacing!r}") from None
    if len(out) != ndim or not all(np.isfinite(v) and v > 0 for v in out):
        raise ValueError(f"spacing must be {ndim} positive numbers, got {spacing!r}")
    return out


def _check_float(arr: Any, lazy: bool) -> None:
    nan, frac = ~np.isfinite(arr).all(), (arr % 1 != 0).any()
    if lazy:
        import dask

        nan, frac = dask.compute(nan, frac)
    if nan:
        raise ValueError("labels contain NaN or inf: expected integer class values")
    if frac:
        raise ValueError("labels must be integer class values; got non-integer floats")


def _check_classes(classes: Any) -> tuple[int, ...]:
    out = []
    for c in [classes] if isinstance(classes, (int, np.integer)) else classes:
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"classes must be integer class values, got {c!r}")
        out.append(int(c))
    return tuple(sorted(set(out)))


def _default_classes(arr: Any, lazy: bool, names: dict[int, str]) -> tuple[int, ...]:
    if lazy:
        import dask
        import dask.array as da

        values, counts = dask.compute(*da.unique(arr, return_counts=True))
    else:
        values, counts = np.unique(arr, return_counts=True)
    present = [int(v) for v in values.tolist()]
    named = [k for k, v in names.items() if v.strip().lower() == "background"]
    if named:
        background = named[0]
    elif 0 in present:
        background = 0
    elif present:
        background = present[int(np.argmax(counts))]  # first of the most frequent
    else:
        return ()
    return tuple(v for v in present if v != background)


def _block_instances(block: np.ndarray, *options: Any) -> tuple[np.ndarray, int]:
    ids, n = unit_instances(block[0], *options)
    return ids[np.newaxis], n


def _shift(result: tuple[np.ndarray, int], offset: int) -> np.ndarray:
    ids, n = result
    if offset + n > _INT32:
        raise ValueError(f"more than {_INT32} instances: they do not fit int32 ids")
    return np.where(ids > 0, ids + np.int32(offset), np.int32(0)).astype(np.int32)


# -- lazy ---------------------------------------------------------------------------------
def _lazy(x: Any, lead_shape: tuple, unit_shape: tuple, n_units: int, options: tuple) -> Any:
    import dask
    import dask.array as da

    size = int(np.prod(unit_shape, dtype=np.int64))
    if size > MAX_LAZY_UNIT:
        what = "plane" if len(unit_shape) == 2 else "volume"
        raise ValueError(
            f"a {what} of {unit_shape} ({size} pixels) is larger than the in-memory bound of "
            f"{MAX_LAZY_UNIT} pixels: instances need each whole {what} at once "
            "(crop the input, or use per_plane=True for a volume)"
        )
    nd = len(unit_shape)
    units = x.rechunk((1,) * len(lead_shape) + (-1,) * nd).reshape((n_units, *unit_shape))
    blocks = units.to_delayed().ravel()
    run = dask.delayed(_block_instances, pure=True)
    shift = dask.delayed(_shift, pure=True)
    count = dask.delayed(operator.itemgetter(1), pure=True)
    parts, offset = [], 0
    for block in blocks:
        res = run(block, *options)
        parts.append(da.from_delayed(shift(res, offset), (1, *unit_shape), dtype=np.int32))
        offset = offset + count(res)
    out = da.concatenate(parts, axis=0) if parts else da.zeros((0, *unit_shape), np.int32)
    return out.reshape((*lead_shape, *unit_shape))
