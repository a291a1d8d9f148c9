"""Dimension handling: any image -> a canonical (T, Z, C, Y, X) array and back.

Axes are named with the letters T, C, Z, Y, X.  Defaults: 2-D arrays are
"YX"; (H, W, 3) and (H, W, 4) arrays are "YXC" RGB / RGBA (alpha dropped).
Any other shape needs an explicit ``axes`` string.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANONICAL = "TZCYX"
SPATIAL = "TZYX"


class AxesError(ValueError):
    """The image's dimensions cannot be interpreted."""


@dataclass(frozen=True)
class Layout:
    """How an input array maps onto the canonical (T, Z, C, Y, X) layout."""

    axes: str  # axes of the input array, e.g. "ZYX"
    drop_alpha: bool = False

    @property
    def spatial_axes(self) -> str:
        """Axes of annotations and label outputs: the input axes without C."""
        return self.axes.replace("C", "")


def resolve_axes(shape: tuple[int, ...], axes: str | None) -> Layout:
    """Check ``axes`` against ``shape`` or infer the default."""
    if axes is None:
        if len(shape) == 2:
            return Layout("YX")
        if len(shape) == 3 and shape[-1] in (3, 4):
            return Layout("YXC", drop_alpha=shape[-1] == 4)
        raise AxesError(
            f"cannot guess the meaning of an image of shape {shape}: pass axes=, e.g. "
            "'ZYX' (3-D stack), 'TYX' (time series), 'CYX' or 'YXC' (channels), "
            "'TZYX', 'TCZYX'... using the letters T, C, Z, Y, X"
        )
    axes = axes.upper()
    if len(axes) != len(shape):
        raise AxesError(
            f"axes {axes!r} has {len(axes)} letters but the image has {len(shape)} dimensions {shape}"
        )
    bad = set(axes) - set(CANONICAL)
    if bad:
        raise AxesError(f"unknown axis letter(s) {sorted(bad)} in {axes!r}; use T, C, Z, Y, X")
    if len(set(axes)) != len(axes):
        raise AxesError(f"repeated axis letter in {axes!r}")
    if "Y" not in axes or "X" not in axes:
        raise AxesError(f"axes {axes!r} must contain Y and X")
    return Layout(axes)


def resolve_image_axes(
    shape: tuple[int, ...], axes: str | None, trained_axes: str | None = None
) -> Layout:
    """:func:`resolve_axes`, falling back to ``trained_axes`` (the axes a model was trained
    with) when ``axes`` is None and the shape alone cannot be read."""
    try:
        return resolve_axes(shape, axes)
    except AxesError:
        if axes is not None or not trained_axes or len(trained_axes) != len(shape):
            raise
        return resolve_axes(shape, trained_axes)


def to_canonical(image: np.ndarray, layout: Layout) -> np.ndarray:
    """Return a (T, Z, C, Y, X) view of ``image`` (NumPy, or lazy for a dask array)."""
    arr = _array(image)
    axes = layout.axes
    for letter in CANONICAL:
        if letter not in axes:
            arr = arr[..., np.newaxis]
            axes += letter
    arr = np.transpose(arr, [axes.index(letter) for letter in CANONICAL])
    if layout.drop_alpha:
        arr = arr[:, :, :3]
    return arr


def annotations_to_canonical(labels: np.ndarray, layout: Layout) -> np.ndarray:
    """Return a (T, Z, Y, X) view of an annotation/label array in the image's spatial axes."""
    labels = _array(labels)
    axes = layout.spatial_axes
    if labels.ndim != len(axes):
        raise AxesError(
            f"annotations have {labels.ndim} dimensions {labels.shape}, expected "
            f"{len(axes)} ({axes}) to match the image"
        )
    for letter in SPATIAL:
        if letter not in axes:
            labels = labels[..., np.newaxis]
            axes += letter
    return np.transpose(labels, [axes.index(letter) for letter in SPATIAL])


def _array(a):
    """NumPy arrays as they are, dask arrays kept lazy, anything else through np.asarray."""
    return a if type(a).__module__.startswith("dask.") else np.asarray(a)


def from_canonical_spatial(arr: np.ndarray, layout: Layout, leading: int = 0) -> np.ndarray:
    """Inverse of :func:`annotations_to_canonical`; ``leading`` extra leading axes are kept."""
    axes = layout.spatial_axes
    lead = list(range(leading))
    order = [leading + SPATIAL.index(letter) for letter in axes]
    squeeze = tuple(leading + SPATIAL.index(letter) for letter in SPATIAL if letter not in axes)
    out = arr
    if squeeze:
        out = out.reshape([s for i, s in enumerate(out.shape) if i not in squeeze])
        kept = [i for i in range(arr.ndim) if i not in squeeze]
        order = [kept.index(i) for i in order]
        lead = [kept.index(i) for i in lead]
    return np.transpose(out, lead + order)
