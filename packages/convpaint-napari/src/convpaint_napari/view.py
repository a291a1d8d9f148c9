"""The part of an image that the viewer shows: the visible plane (:func:`.layers.plane_region`)
cut down to the field of view of the canvas at the current zoom, clipped to the image.

Live mode segments only this region (``segment(region=...)``), so its cost follows the
screen, not the image; the rest of the plane is segmented when asked (Segment plane).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .layers import plane_region


def camera(viewer: Any) -> Any:
    """The viewer's camera (``viewer.scene.camera`` from napari 0.9, else ``viewer.camera``)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera


def canvas_size(viewer: Any) -> tuple[int, int] | None:
    """Canvas (height, width) in screen pixels, None when napari does not say."""
    canvas = getattr(viewer, "canvas", None)
    size = getattr(canvas, "size", None) if canvas is not None else None
    if size is None:
        size = getattr(viewer, "_canvas_size", None)  # napari < 0.9
    if size is None or len(size) != 2 or min(size) < 2:
        return None
    return int(size[0]), int(size[1])


def field_of_view(viewer: Any) -> np.ndarray | None:
    """World coordinates (2, 2) of the canvas' top-left and bottom-right corners in the
    two displayed dimensions; None in 3-D display or without a canvas size."""
    if viewer.dims.ndisplay != 2:
        return None
    size = canvas_size(viewer)
    cam = camera(viewer)
    if size is None or not cam.zoom > 0:
        return None
    center = np.asarray(cam.center, float)[-2:]
    half = np.asarray(size, float) / 2 / float(cam.zoom)
    return np.array([center - half, center + half])


def visible_region(viewer: Any, layer: Any, axes: str) -> tuple[int | slice, ...] | None:
    """Region of ``layer`` (spatial axes, as :func:`.layers.plane_region`) inside the field
    of view: Y and X slices clipped to the image; the whole plane when the view covers
    it or cannot be measured; None when no pixel of the image is visible."""
    region = list(plane_region(viewer, layer, axes))
    fov = field_of_view(viewer)
    if fov is None:
        return tuple(region)
    displayed = list(viewer.dims.displayed)
    offset = viewer.dims.ndim - layer.ndim
    data_dims = [d - offset for d in displayed]
    if min(data_dims) < 0:
        return tuple(region)
    point = np.asarray(viewer.dims.point, float)
    corners = []
    for y, x in itertools.product(fov[:, 0], fov[:, 1]):
        world = point.copy()
        world[displayed] = (y, x)
        corners.append(np.asarray(layer.world_to_data(world), float)[data_dims])
    lo, hi = np.min(corners, axis=0), np.max(corners, axis=0)
    spatial = [i for i, a in enumerate(axes) if a != "C"]  # layer dim -> region index
    shape = layer.data.shape
    for dim, start, stop in zip(data_dims, lo, hi, strict=True):
        if dim not in spatial:
            return tuple(region)  # a channel axis displayed: leave it whole
        n = shape[dim]
        first = int(np.clip(np.floor(start + 0.5), 0, n))  # pixel i covers [i-0.5, i+0.5)
        last = int(np.clip(np.ceil(stop + 0.5), 0, n))
        if last <= first:
            return None
        if (first, last) != (0, n):
            region[spatial.index(dim)] = slice(first, last)
    return tuple(region)
