"""Where to scribble next: per-pixel uncertainty and the boxes where the model is least sure.

:func:`uncertainty` is ``1 - (p_max - p_second)``, one minus the margin between the two
most probable classes (0: sure, 1: a tie; a single class: 0).  :func:`suggest` averages it
over boxes of about a tile (box filter via an integral image), counts annotated pixels
as certain and picks non-overlapping boxes greedily, most uncertain first (non-maximum
suppression).  Boxes lie in one plane: ``(z, slice, slice)`` for a Z stack, so a
:class:`Suggestion`'s ``box`` is also a valid ``region=`` of ``segment``.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .axes import resolve_image_axes

DEFAULT_BOX = 64  # edge of a suggested box in pixels (at most a quarter of the plane's edge)
_TOLERANCE = 1e-3  # probabilities may exceed 1 by rounding


@dataclass(frozen=True)
class Suggestion:
    """A region worth annotating next.

    ``box`` indexes the image's spatial axes (integers for plane axes such as Z or T,
    slices for Y and X), e.g. ``image[s.box]`` for a 2-D image, ``region=s.box`` for
    ``segment``; ``score`` is the box's mean uncertainty in [0, 1] (annotated pixels
    count as 0); ``center`` is the box centre (one integer per spatial axis).
    """

    box: tuple[int | slice, ...]
    score: float
    center: tuple[int, ...]


# -- uncertainty ---------------------------------------------------------------------------
def _margin(p: np.ndarray, axis: int) -> np.ndarray:
    """1 - (p_max - p_second) along ``axis``; checks the values (also inside dask blocks)."""
    p = np.asarray(p, dtype=np.float32)
    if np.isnan(p).any():
        raise ValueError("proba contains NaN")
    if p.size and (p.min() < 0 or p.max() > 1 + _TOLERANCE):
        raise ValueError(
            f"proba must hold probabilities in [0, 1], got values in [{p.min()}, {p.max()}]"
        )
    n = p.shape[axis]
    if n == 1:
        return np.zeros(np.delete(p.shape, axis), np.float32)
    top = np.partition(p, n - 2, axis=axis)
    first = np.take(top, n - 1, axis=axis)
    second = np.take(top, n - 2, axis=axis)
    return np.clip(1 - (first - second), 0, 1).astype(np.float32, copy=False)


def uncertainty(proba: Any, axis: int = 0) -> Any:
    """Per-pixel uncertainty ``1 - (p_max - p_second)`` in [0, 1], float32.

    ``proba`` holds class probabilities along ``axis`` (as from
    ``ConvpaintModel.predict_proba``: shape (n_classes, *spatial)); the result has
    the spatial shape.  One class gives 0 everywhere.  A dask array gives a lazy
    dask array (its values are checked when computed).  NaN, negative values or
    values above 1 raise ValueError.
    """
    lazy = hasattr(proba, "dask") and hasattr(proba, "map_blocks")
    if not lazy:
        proba = np.asarray(proba)
    dtype = proba.dtype
    if dtype.kind == "c":
        raise TypeError(f"proba is complex-valued ({dtype}); pass real probabilities")
    if dtype.kind not in "biuf":
        raise TypeError(f"proba dtype {dtype} is not numeric")
    if proba.ndim < 1:
        raise ValueError("proba must have a class axis, got a scalar")
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"axis must be an integer, got {axis!r}")
    axis = operator.index(axis)
    if not -proba.ndim <= axis < proba.ndim:
        raise ValueError(f"axis {axis} is out of range for proba of shape {proba.shape}")
    axis %= proba.ndim
    if proba.shape[axis] == 0:
        raise ValueError(f"proba has no classes along axis {axis} (shape {proba.shape})")
    if not lazy:
        return _margin(proba, axis)
    proba = proba.rechunk({axis: -1})  # every block holds all classes
    return proba.map_blocks(_margin, axis, drop_axis=axis, dtype=np.float32)


# -- boxes ---------------------------------------------------------------------------------
def _box_size(box: Any, shape: tuple[int, int]) -> tuple[int, int]:
    if box is None:
        edge = max(1, min(DEFAULT_BOX, min(shape) // 4))
        return min(edge, shape[0]), min(edge, shape[1])
    sizes = (box, box) if not isinstance(box, (tuple, list)) else tuple(box)
    if len(sizes) != 2:
        raise ValueError(f"box must be an edge or a (height, width) pair, got {box!r}")
    out = []
    for s in sizes:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"box sizes must be integers, got {box!r}")
        if s < 1:
            raise ValueError(f"box sizes must be >= 1, got {box!r}")
        out.append(int(s))
    return min(out[0], shape[0]), min(out[1], shape[1])


def _box_means(u: np.ndarray, h: int, w: int) -> np.ndarray:
    """Mean of ``u`` (P, Y, X) over every h x w box that fits: (P, Y - h + 1, X - w + 1)."""
    out = np.empty((u.shape[0], u.shape[1] - h + 1, u.shape[2] - w + 1), np.float64)
    for p, plane in enumerate(u):  # one plane's integral image at a time
        s = np.zeros((plane.shape[0] + 1, plane.shape[1] + 1), np.float64)
        np.cumsum(np.cumsum(plane, axis=0, dtype=np.float64), axis=1, out=s[1:, 1:])
        out[p] = s[h:, w:] - s[:-h, w:] - s[h:, :-w] + s[:-h, :-w]
    out /= h * w
    return np.clip(out, 0, 1, out=out)  # rounding of the sums


def _greedy(scores: np.ndarray, n: int, h: int, w: int) -> list[tuple[int, int, int, float]]:
    """Best non-overlapping boxes (plane, top, left, score), best first; ties: first index."""
    scores = scores.copy()
    picked: list[tuple[int, int, int, float]] = []
    while len(picked) < n:
        i = int(np.argmax(scores))
        p, y, x = np.unravel_index(i, scores.shape)
        best = float(scores[p, y, x])
        if not best > 0:  # nothing uncertain left (or every position suppressed)
            break
        picked.append((int(p), int(y), int(x), best))
        scores[p, max(0, y - h + 1) : y + h, max(0, x - w + 1) : x + w] = -1
    return picked


# -- suggest -------------------------------------------------------------------------------
def _spatial_axes(image: Any, proba: Any, axes: str | None, model: Any) -> str:
    if image is None:
        ndim = len(np.shape(proba)) - 1
        if axes is not None:
            axes = axes.upper().replace("C", "")
            if len(axes) != ndim:
                raise ValueError(f"axes {axes!r} do not match proba's {ndim} spatial axes")
            return axes
        if ndim > 4:
            raise ValueError(f"pass axes= for proba with {ndim} spatial axes")
        return "TZYX"[4 - ndim :]
    shape = tuple(getattr(image, "shape", np.shape(image)))
    return _full_axes(shape, axes, model).replace("C", "")


def _parse_region(region: Any, spatial: str, shape: tuple[int, ...]) -> tuple[Any, ...]:
    """Normalised region: a slice (step 1, non-empty) or an integer per spatial axis."""
    if region is None:
        region = ()
    if not isinstance(region, tuple):
        region = (region,)
    if len(region) > len(shape):
        raise ValueError(f"region has {len(region)} entries for {len(shape)} spatial axes")
    region = region + (slice(None),) * (len(shape) - len(region))
    out: list[Any] = []
    for letter, item, n in zip(spatial, region, shape, strict=True):
        if isinstance(item, slice):
            start, stop, step = item.indices(n)
            if step != 1 or stop <= start:
                raise ValueError(f"region slice {item} for axis {letter} must be non-empty, step 1")
            out.append(slice(start, stop))
        elif letter in "YX":
            raise ValueError(f"region must keep axis {letter} as a slice, got {item!r}")
        elif isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
            raise TypeError(f"region entries must be integers or slices, got {item!r}")
        elif not -n <= item < n:
            raise IndexError(f"region index {item} is out of range for axis {letter} of size {n}")
        else:
            out.append(int(item) % n)
    return tuple(out)


def suggest(
    model: Any,
    image: Any,
    n: int = 3,
    *,
    annotations: Any = None,
    axes: str | None = None,
    box: int | Sequence[int] | None = None,
    region: Any = None,
    proba: Any = None,
) -> list[Suggestion]:
    """The ``n`` non-overlapping boxes where the model is least sure, best first.

    Parameters
    ----------
    model : a trained ``ConvpaintModel`` (``predict_proba`` is called), or None
        when ``proba`` is given.
    image : the image (NumPy, dask or zarr) or None when ``proba`` is given.
    n : the most boxes to return; fewer come back when no more fit or nothing
        uncertain is left (boxes with score 0 are never suggested).
    annotations : labels with the image's spatial shape (0 = unlabelled); annotated
        pixels count as certain, so boxes already scribbled rank low.
    axes : axes of ``image`` (of ``proba``'s spatial axes when ``image`` is None).
    box : edge or (height, width) of the boxes in pixels; default 64, at most a
        quarter of the shorter edge of the searched plane.
    region : search only this part (spatial axes, integers and slices as for
        ``segment(region=)``); only that part is predicted.
    proba : precomputed ``predict_proba(image, axes)`` of the whole image.

    Returns
    -------
    list of :class:`Suggestion` in image coordinates (plane axes as integers).
    Deterministic: equal scores go to the first position in C order.
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an integer, got {n!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if proba is None:
        if model is None or image is None:
            raise ValueError("suggest needs a model and an image, or proba=")
        spatial = _spatial_axes(image, None, axes, model)
        full = _image_spatial_shape(image, axes, model)
        reg = _parse_region(region, spatial, full)
        if n == 0:
            return []
        u = uncertainty(model.predict_proba(image, axes, region=reg))
    else:
        if np.ndim(proba) < 3:
            raise ValueError(f"proba must be (n_classes, ..., Y, X), got shape {np.shape(proba)}")
        spatial = _spatial_axes(image, proba, axes, model)
        full = tuple(np.shape(proba)[1:])
        if image is not None and _image_spatial_shape(image, axes, model) != full:
            raise ValueError(
                f"proba's spatial shape {full} does not match the image's "
                f"{_image_spatial_shape(image, axes, model)}"
            )
        reg = _parse_region(region, spatial, full)
        u = uncertainty(proba)[reg]
    u = np.array(u, dtype=np.float32)  # computes a lazy map
    if annotations is not None:
        ann_shape = tuple(np.shape(annotations))
        if ann_shape != full:
            raise ValueError(f"annotations shape {ann_shape} != the image's spatial shape {full}")
        source = annotations if hasattr(annotations, "shape") else np.asarray(annotations)
        ann = np.asarray(source[reg])  # a lazy array: only the region is read
        if ann.dtype.kind not in "biu":
            raise TypeError(f"annotations must be integer labels, got dtype {ann.dtype}")
        u[ann > 0] = 0
    return _boxes(u, spatial, reg, n, box)


def _image_spatial_shape(image: Any, axes: str | None, model: Any) -> tuple[int, ...]:
    shape = tuple(getattr(image, "shape", np.shape(image)))
    letters = _full_axes(shape, axes, model)
    return tuple(s for s, a in zip(shape, letters, strict=True) if a != "C")


def _full_axes(shape: tuple[int, ...], axes: str | None, model: Any) -> str:
    return resolve_image_axes(shape, axes, getattr(model, "axes_", None)).axes


def _boxes(u: np.ndarray, spatial: str, reg: tuple[Any, ...], n: int, box: Any) -> list[Suggestion]:
    """Boxes over ``u`` (the region's uncertainty, integer axes of ``reg`` dropped)."""
    kept = [a for a, r in zip(spatial, reg, strict=True) if isinstance(r, slice)]
    if "Y" in kept and "X" in kept:
        order = [kept.index(a) for a in kept if a not in "YX"] + [kept.index("Y"), kept.index("X")]
    else:  # spatial axes unknown: the last two are Y and X
        order = list(range(len(kept)))
    moved = np.transpose(u, order)
    plane_shape = moved.shape[:-2]
    h, w = _box_size(box, moved.shape[-2:])
    if n == 0:
        return []
    planes = moved.reshape(-1, *moved.shape[-2:])
    picked = _greedy(_box_means(planes, h, w), n, h, w)
    out = []
    for p, top, left, score in picked:
        plane_index = np.unravel_index(p, plane_shape) if plane_shape else ()
        local: list[Any] = [0] * len(kept)
        for k, idx in zip(order[:-2], plane_index, strict=True):
            local[k] = int(idx)
        local[order[-2]] = slice(top, top + h)
        local[order[-1]] = slice(left, left + w)
        it = iter(local)
        full_box: list[Any] = []
        for r in reg:  # back to image coordinates
            if not isinstance(r, slice):
                full_box.append(r)
                continue
            item = next(it)
            if isinstance(item, slice):
                full_box.append(slice(item.start + r.start, item.stop + r.start))
            else:
                full_box.append(item + r.start)
        center = tuple((b.start + b.stop - 1) // 2 if isinstance(b, slice) else b for b in full_box)
        out.append(Suggestion(tuple(full_box), score, center))
    return out
