"""Showing a job's results: the segmentation (class colours and names), probabilities
(visible), uncertainty and instances layers, each written over the job's region."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from napari.layers import Image, Labels

from . import classes, layers
from .tasks import Result

UNCERTAINTY, INSTANCES = layers.UNCERTAINTY, layers.INSTANCES


def _add_below(viewer: Any, layer: Any, image: Image) -> None:
    """Move a new image-like result just above ``image``, under annotations and labels."""
    if image in viewer.layers:
        viewer.layers.move(viewer.layers.index(layer), viewer.layers.index(image) + 1)


def _keep_active(viewer: Any, add: Any) -> Any:
    active = viewer.layers.selection.active
    layer = add()
    if active is not None and active in viewer.layers:  # keep painting where the user was
        viewer.layers.selection.active = active
    return layer


def result_image(
    viewer: Any, image: Image, axes: str, name: str, lead: tuple[int, ...], **style: Any
) -> Image:
    """The float image layer ``name`` of shape (*lead, *spatial shape) (made or reset)."""
    shape = (*lead, *layers.spatial_shape(image.data.shape, axes))
    layer = layers.find_layer(viewer, name, Image)
    if layer is None:
        placement = layers._placement(image, axes)
        pad = [1.0] * len(lead), [0.0] * len(lead)
        layer = _keep_active(
            viewer,
            lambda: viewer.add_image(
                np.zeros(shape, np.float32),
                name=name,
                contrast_limits=(0.0, 1.0),
                scale=[*pad[0], *placement["scale"]],
                translate=[*pad[1], *placement["translate"]],
                **style,
            ),
        )
        _add_below(viewer, layer, image)
    elif layer.data.shape != shape:
        layer.data = np.zeros(shape, np.float32)
    return layer


def result_instances(viewer: Any, image: Image, axes: str) -> Labels:
    shape = layers.spatial_shape(image.data.shape, axes)
    layer = layers.find_layer(viewer, INSTANCES, Labels)
    if layer is None:
        layer = _keep_active(
            viewer,
            lambda: viewer.add_labels(
                np.zeros(shape, np.int32),
                name=INSTANCES,
                opacity=0.6,
                **layers._placement(image, axes),
            ),
        )
        layer.editable = False
    elif layer.data.shape != shape:
        layer.data = np.zeros(shape, np.int32)
    return layer


def restyle(layer: Labels, names: Mapping[int, str], colors: Mapping[int, str]) -> None:
    """:func:`.classes.style_layer` unless ``layer`` has these names and colours already (a
    new colormap makes napari recolour and redraw the whole layer: ~0.1 s at 4 MPix)."""
    style = (sorted(names.items()), sorted(colors.items()), id(layer.colormap))
    if layer.metadata.get("convpaint_style") == style:
        return
    classes.style_layer(layer, names, colors)
    layer.metadata["convpaint_style"] = (style[0], style[1], id(layer.colormap))


def show(
    viewer: Any,
    image: Image,
    axes: str,
    annotations: Labels | None,
    result: Result,
    names: Mapping[int, str],
    colors: Mapping[int, str],
) -> None:
    """Write ``result`` into its layers over ``result.region`` (None: all)."""
    if result.labels is None:
        raise ValueError("the job segmented nothing (train only)")
    region = result.region or ()
    dtype = annotations.data.dtype if annotations is not None else result.labels.dtype
    seg = layers.result_labels(viewer, image, axes, dtype)
    restyle(seg, names, colors)
    layers.write(seg, region, result.labels.astype(seg.data.dtype, copy=False))
    if result.proba is not None:
        prob = result_image(
            viewer, image, axes, layers.PROBABILITIES, (len(result.proba),),
            colormap="magma", opacity=0.7, blending="additive",
        )  # fmt: skip
        layers.write(prob, region, result.proba, leading=1)
    if result.uncertainty is not None:
        unc = result_image(
            viewer, image, axes, UNCERTAINTY, (), colormap="inferno", opacity=0.7,
            blending="additive",
        )  # fmt: skip
        layers.write(unc, region, result.uncertainty)
    if result.instances is not None:
        inst = result_instances(viewer, image, axes)
        layers.write(inst, region, result.instances)
        classes.name_instances(inst, result.instances, result.labels, names)
