"""napari layers for Convpaint: the axes of an image layer and the annotation/result layers.

Annotation, segmentation and probability layers have the image's *spatial* shape (the
channel axis left out); napari aligns layers on their trailing axes, so the channel axis
must come first or last (RGB).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from napari.layers import Image, Labels

ANNOTATIONS = "annotations"
SEGMENTATION = "segmentation"
PROBABILITIES = "probabilities"
UNCERTAINTY = "uncertainty"
INSTANCES = "instances"
RESULTS = (SEGMENTATION, PROBABILITIES, UNCERTAINTY, INSTANCES)  # never offered as inputs

_LABEL_NAMES = {
    "t": "T", "time": "T", "frame": "T",
    "z": "Z", "depth": "Z", "plane": "Z", "slice": "Z",
    "c": "C", "ch": "C", "channel": "C", "channels": "C",
    "y": "Y", "x": "X",
}  # fmt: skip


def guess_axes(layer: Image) -> str:
    """Axes string (T, Z, C, Y, X) of an image layer: RGB flag, then ``axis_labels``,
    else Z for one leading axis and TZ for two (more: set them in the widget)."""
    ndim = layer.ndim  # napari leaves the colour axis of RGB layers out
    rgb = bool(getattr(layer, "rgb", False))
    n_lead = ndim - 2
    if n_lead < 0:
        raise ValueError(f"layer {layer.name!r} has {ndim} dimension(s); an image needs 2 or more")
    lead = [_LABEL_NAMES.get(str(a).strip().lower(), "") for a in layer.axis_labels[:n_lead]]
    known = [a for a in lead if a in "TZC"]
    if all(lead) and len(set(known)) == len(known):
        return "".join(lead) + ("YXC" if rgb else "YX")
    defaults = {0: "", 1: "Z", 2: "TZ"}
    n = len(lead)
    if n not in defaults:
        raise ValueError(
            f"layer {layer.name!r} has {ndim} dimensions; set its axes (T, Z, C, Y, X)"
        )
    return defaults[n] + ("YXC" if rgb else "YX")


def check_axes(axes: str, shape: tuple[int, ...]) -> str:
    """Upper-case ``axes``; check it fits ``shape`` and that napari can align its layers."""
    axes = axes.strip().upper()
    if len(axes) != len(shape):
        raise ValueError(
            f"axes {axes!r} has {len(axes)} letters but the image has {len(shape)} "
            f"dimensions {shape}"
        )
    if set(axes) - set("TZCYX") or len(set(axes)) != len(axes):
        raise ValueError(f"axes {axes!r}: use each of T, Z, C, Y, X at most once")
    if "C" in axes and axes.index("C") not in (0, len(axes) - 1):
        raise ValueError(f"axes {axes!r}: the channel axis must be the first or the last one")
    return axes


def spatial_shape(shape: tuple[int, ...], axes: str) -> tuple[int, ...]:
    """``shape`` without its channel axis."""
    return tuple(n for n, a in zip(shape, axes, strict=True) if a != "C")


def spatial_axes(axes: str) -> str:
    return axes.replace("C", "")


def plane_region(viewer: Any, layer: Image, axes: str) -> tuple[int | slice, ...]:
    """Region (indices of the spatial axes) of what the viewer shows of ``layer``: the
    current index of each T/Z axis not displayed, the whole of every other axis."""
    point = layer.world_to_data(viewer.dims.point)
    offset = viewer.dims.ndim - layer.ndim
    displayed = {d - offset for d in viewer.dims.displayed}
    region: list[int | slice] = []
    for i, (a, n) in enumerate(zip(axes, layer.data.shape, strict=True)):
        if a == "C":
            continue
        if a in "TZ" and i not in displayed:
            region.append(int(np.clip(np.round(point[i]), 0, n - 1)))
        else:
            region.append(slice(None))
    return tuple(region)


def labels_layers(viewer: Any) -> list[Labels]:
    return [layer for layer in viewer.layers if isinstance(layer, Labels)]


def image_layers(viewer: Any) -> list[Image]:
    return [layer for layer in viewer.layers if isinstance(layer, Image)]


def find_layer(viewer: Any, name: str, kind: type) -> Any:
    """The layer called ``name`` if it is a ``kind``, else None."""
    for layer in viewer.layers:
        if layer.name == name:
            return layer if isinstance(layer, kind) else None
    return None


def _placement(image: Image, axes: str) -> dict[str, Any]:
    """Scale/translate of ``image`` restricted to its spatial axes, so results overlay it."""
    keep = [i for i, a in enumerate(axes) if a != "C"]
    return {
        "scale": [image.scale[i] for i in keep],
        "translate": [image.translate[i] for i in keep],
    }


def new_annotations(viewer: Any, image: Image, axes: str) -> Labels:
    """An empty "annotations" labels layer with the image's spatial shape."""
    shape = spatial_shape(image.data.shape, axes)
    layer = viewer.add_labels(
        np.zeros(shape, np.uint8), name=ANNOTATIONS, **_placement(image, axes)
    )
    layer.brush_size = max(2, min(shape[-2:]) // 60)
    layer.mode = "paint"
    layer.selected_label = 1
    return layer


def result_labels(
    viewer: Any, image: Image, axes: str, dtype: Any, colours: Labels | None = None
) -> Labels:
    """The "segmentation" labels layer (created, or emptied when its shape or dtype
    differ), with the class colours of ``colours`` (the annotations layer)."""
    shape = spatial_shape(image.data.shape, axes)
    layer = find_layer(viewer, SEGMENTATION, Labels)
    if layer is None:
        active = viewer.layers.selection.active
        layer = viewer.add_labels(
            np.zeros(shape, dtype), name=SEGMENTATION, opacity=0.5, **_placement(image, axes)
        )
        layer.editable = False
        if active is not None:  # keep painting where the user was
            viewer.layers.selection.active = active
    elif layer.data.shape != shape or np.dtype(layer.data.dtype) != np.dtype(dtype):
        layer.data = np.zeros(shape, dtype)
    if colours is not None:
        share_colours(colours, layer)
    return layer


def result_probabilities(viewer: Any, image: Image, axes: str, n_classes: int) -> Image:
    """The "probabilities" image layer, shape (n_classes, *spatial shape)."""
    shape = (n_classes, *spatial_shape(image.data.shape, axes))
    layer = find_layer(viewer, PROBABILITIES, Image)
    if layer is None:
        placement = _placement(image, axes)
        layer = viewer.add_image(
            np.zeros(shape, np.float32),
            name=PROBABILITIES,
            contrast_limits=(0.0, 1.0),
            colormap="magma",
            visible=False,
            scale=[1.0, *placement["scale"]],
            translate=[0.0, *placement["translate"]],
        )
    elif layer.data.shape != shape:
        layer.data = np.zeros(shape, np.float32)
    return layer


def share_colours(source: Labels, target: Labels) -> None:
    """Give ``target`` the class colours of ``source``."""
    if target.colormap is not source.colormap:
        target.colormap = source.colormap


def write(layer: Any, region: tuple, values: np.ndarray, leading: int = 0) -> None:
    """Write ``values`` into ``layer.data[region]`` (after ``leading`` full axes) and redraw."""
    index = (slice(None),) * leading + tuple(region)
    layer.data[index] = values
    layer.refresh()


def show_result(
    viewer: Any,
    image: Image,
    axes: str,
    annotations: Labels | None,
    region: tuple | None,
    labels: np.ndarray,
    proba: np.ndarray | None,
) -> None:
    """Write a job's labels (and probabilities) into the result layers over ``region``
    (None: all), in the annotations' dtype and class colours."""
    dtype = annotations.data.dtype if annotations is not None else labels.dtype
    region = region or ()
    seg = result_labels(viewer, image, axes, dtype, colours=annotations)
    write(seg, region, labels.astype(seg.data.dtype, copy=False))
    if proba is not None:
        prob = result_probabilities(viewer, image, axes, len(proba))
        write(prob, region, proba, leading=1)
