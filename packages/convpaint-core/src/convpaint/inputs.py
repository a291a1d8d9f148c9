"""The one validator of images and annotations, for NumPy, dask and zarr arrays alike.

:func:`prepare_image` gives a canonical (T, Z, C, Y, X) view (a NumPy view, or a
lazy dask array that is never read whole) and its :class:`~convpaint.axes.Layout`;
:func:`prepare_annotations` the matching (T, Z, Y, X) labels.  Both refuse bad
input with an error that names the problem before any work starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .axes import Layout, annotations_to_canonical, resolve_image_axes, to_canonical
from .normalize import check_finite

#: class values are kept exactly: integers of the signed 64-bit range
INT64 = np.iinfo(np.int64)
EXACT_FLOAT = 2**53  # floats above this may already have lost their integer value


def is_lazy(array: Any) -> bool:
    """A dask array or a zarr array (anything else is read with ``np.asarray``)."""
    if isinstance(array, np.ndarray) or not hasattr(array, "shape"):
        return False
    return type(array).__module__.startswith(("dask.", "zarr."))


def as_dask(array: Any):
    """A dask view of a dask or zarr array (zarr chunks kept)."""
    import dask.array as da

    if isinstance(array, da.Array):
        x = array
    else:
        chunks = getattr(array, "chunks", None) or "auto"
        x = da.from_array(array, chunks=chunks, asarray=False)
    if any(np.isnan(c) for chunks in x.chunks for c in chunks):
        raise ValueError(
            f"the dask array {x.shape} has unknown chunk sizes (e.g. after boolean indexing); "
            "call .compute_chunk_sizes() on it first"
        )
    return x


def prepare_image(
    image: Any,
    axes: str | None,
    n_channels: int | None = None,
    trained_axes: str | None = None,
) -> tuple[Any, Layout]:
    """(canonical (T, Z, C, Y, X) view, layout) of a NumPy, dask or zarr image.

    ``n_channels``: the trained channel count (refused when it differs);
    ``trained_axes``: the axes used in training, the default when ``axes`` is
    None and the shape cannot be guessed.  NumPy images are checked for finite
    values here; lazy ones when their statistics are read (never a full copy).
    """
    lazy = is_lazy(image)
    x = as_dask(image) if lazy else np.asarray(image)
    kind = x.dtype.kind
    if lazy:
        if kind == "c":
            raise TypeError(f"image is complex-valued ({x.dtype}); pass a real image")
        if kind not in "biuf":
            raise TypeError(f"image dtype {x.dtype} is not numeric")
    else:
        check_finite(x)
    layout = resolve_image_axes(x.shape, axes, trained_axes)  # else the training's axes
    canon = to_canonical(x, layout)
    if min(canon.shape[-2:]) < 1 or 0 in canon.shape[:2]:
        empty = [a for a, n in zip(layout.axes, x.shape, strict=True) if n == 0]
        raise ValueError(
            f"image has an empty spatial dimension ({', '.join(empty)}): shape {x.shape}"
        )
    if canon.shape[2] < 1:
        raise ValueError(f"image has no channels: shape {x.shape}")
    if n_channels is not None and canon.shape[2] != n_channels:
        raise ValueError(
            f"image has {canon.shape[2]} channel(s) but the model was trained on {n_channels}"
        )
    return canon, layout


def prepare_annotations(annotations: Any, layout: Layout, canon_shape: tuple[int, ...]) -> Any:
    """(T, Z, Y, X) labels matching a canonical image shape; NumPy or (lazy) dask.

    Labels are integers (or integer-valued floats), >= 0 (0 = unlabelled), in the
    signed 64-bit range; values are kept exactly.
    """
    lazy = is_lazy(annotations)
    ann = as_dask(annotations) if lazy else np.asarray(annotations)
    kind = ann.dtype.kind
    if kind not in "biuf":
        raise ValueError(f"annotations must be integer class labels, got dtype {ann.dtype}")
    canon_ann = annotations_to_canonical(ann, layout)
    expected = canon_shape[:2] + canon_shape[3:]
    if canon_ann.shape != expected:
        spatial = tuple(
            n
            for a, n in zip(layout.axes, _user_shape(layout, canon_shape), strict=True)
            if a != "C"
        )
        raise ValueError(
            f"annotations shape {tuple(ann.shape)} does not match the image's spatial shape "
            f"({layout.spatial_axes}: {spatial})"
        )
    _check_values(canon_ann, lazy)
    return canon_ann


def _user_shape(layout: Layout, canon_shape: tuple[int, ...]) -> tuple[int, ...]:
    sizes = dict(zip("TZCYX", canon_shape, strict=True))
    return tuple(sizes[a] for a in layout.axes)


def _check_values(ann: Any, lazy: bool) -> None:
    """Refuse negative, non-integer, NaN and out-of-range (not exactly kept) labels."""
    kind = ann.dtype.kind
    if kind == "b" or (kind == "u" and ann.dtype.itemsize < 8) or kind == "i":
        lo_needed = kind == "i"
        hi_needed = False
    else:
        lo_needed = True
        hi_needed = True
    checks = {}
    if lo_needed:
        checks["min"] = ann.min()
    if hi_needed:
        checks["max"] = ann.max()
    if kind == "f":
        checks["fraction"] = (ann % 1 != 0).any()
        checks["nan"] = (~np.isfinite(ann)).any()
    if not checks:
        return
    if lazy:
        import dask

        keys = list(checks)
        checks = dict(zip(keys, dask.compute(*checks.values()), strict=True))
    if kind == "f" and bool(checks["nan"]):
        raise ValueError("annotations must be integer class labels; they contain NaN or inf")
    if kind == "f" and bool(checks["fraction"]):
        raise ValueError("annotations must be integer class labels; got non-integer values")
    if "min" in checks and checks["min"] < 0:
        raise ValueError("annotations must be >= 0 (0 = unlabelled)")
    if "max" in checks:
        top = checks["max"]
        limit = EXACT_FLOAT if kind == "f" else INT64.max
        if top > limit:
            raise ValueError(
                f"annotation value {top!r} is out of range: class values must be integers "
                f"up to {limit} so that they are kept exactly"
            )
