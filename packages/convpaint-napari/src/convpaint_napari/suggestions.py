"""Where to scribble next: the boxes where the model is least sure (``model.suggest``)
as a napari Shapes layer "suggestions", and a jump of the camera to one of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

SUGGESTIONS = "suggestions"
EDGE_COLOR = "yellow"


def rectangle(box: Sequence[int | slice]) -> np.ndarray:
    """The 4 corners (4, ndim) of a suggestion's box, in data coordinates: pixel edges
    (``start - 0.5`` to ``stop - 0.5``) of its two slice axes, its integer axes fixed."""
    sliced = [i for i, b in enumerate(box) if isinstance(b, slice)]
    if len(sliced) != 2:
        raise ValueError(f"a suggestion box has two slice axes (Y and X), got {box!r}")
    base = np.array([0.0 if isinstance(b, slice) else float(b) for b in box])
    (i, j), corners = sliced, []
    rows, cols = box[i], box[j]
    assert isinstance(rows, slice) and isinstance(cols, slice)
    for a, b in ((0, 0), (0, 1), (1, 1), (1, 0)):
        point = base.copy()
        point[i] = (rows.start, rows.stop)[a] - 0.5
        point[j] = (cols.start, cols.stop)[b] - 0.5
        corners.append(point)
    return np.array(corners)


def _spatial_placement(layer: Any, axes: str) -> dict[str, list[float]]:
    keep = [i for i, a in enumerate(axes) if a != "C"]
    return {
        "scale": [layer.scale[i] for i in keep],
        "translate": [layer.translate[i] for i in keep],
    }


def show_suggestions(
    viewer: Any,
    model: Any,
    image_layer: Any,
    annotations_layer: Any = None,
    n: int = 3,
    axes: str | None = None,
) -> Any:
    """Add (or update) the Shapes layer "suggestions": rectangles around the ``n``
    regions where ``model`` is least sure (annotated pixels excluded), best first,
    each labelled with its score; ``layer.metadata["suggestions"]`` holds the
    :class:`convpaint.Suggestion` objects.  The annotations layer stays selected."""
    from . import layers

    if model is None or getattr(model, "classes_", None) is None:
        raise ValueError("no trained model: press Train (or load a model) first")
    if image_layer is None:
        raise ValueError("pick an image layer first")
    if axes is None:
        axes = layers.guess_axes(image_layer)
    axes = layers.check_axes(axes, tuple(image_layer.data.shape))
    annotations = None
    if annotations_layer is not None:
        annotations = np.asarray(annotations_layer.data)
        expected = layers.spatial_shape(tuple(image_layer.data.shape), axes)
        if annotations.shape != expected:
            raise ValueError(
                f"annotations layer {annotations_layer.name!r} has shape {annotations.shape}, "
                f"the image's spatial shape is {expected}"
            )
    found = model.suggest(image_layer.data, n, annotations=annotations, axes=axes)
    shapes = [rectangle(s.box) for s in found]
    scores = [float(s.score) for s in found]
    active = viewer.layers.selection.active
    layer = layers.find_layer(viewer, SUGGESTIONS, _shapes_type())
    ndim = len(axes.replace("C", ""))
    if layer is not None and layer.ndim != ndim:
        viewer.layers.remove(layer)
        layer = None
    if layer is None:
        layer = viewer.add_shapes(
            name=SUGGESTIONS,
            ndim=ndim,
            edge_color=EDGE_COLOR,
            face_color="transparent",
            edge_width=2,
            **_spatial_placement(image_layer, axes),
        )
    layer.data = []
    if shapes:
        layer.add_rectangles(shapes, edge_color=EDGE_COLOR, face_color="transparent")
        layer.features = {"score": scores}
        layer.text = {"string": "{score:.2f}", "color": EDGE_COLOR, "anchor": "upper_left"}
    layer.metadata["suggestions"] = found
    layer.editable = False
    if active is not None and active is not layer:  # keep painting where the user was
        viewer.layers.selection.active = active
    return layer


def _shapes_type() -> type:
    from napari.layers import Shapes

    return Shapes


def jump_to(viewer: Any, suggestion: Any, layer: Any = None) -> None:
    """Centre the camera on ``suggestion`` and step the viewer's other axes (Z, T) to its
    plane.  ``layer``: the layer whose data coordinates the suggestion uses (its
    scale/translate are applied; default: the "suggestions" layer, else none)."""
    from . import layers

    if layer is None:
        layer = layers.find_layer(viewer, SUGGESTIONS, _shapes_type())
    center = np.asarray(suggestion.center, float)
    world = np.asarray(layer.data_to_world(center) if layer is not None else center, float)
    offset = viewer.dims.ndim - len(world)
    if offset < 0:
        raise ValueError(
            f"the suggestion has {len(world)} axes but the viewer only {viewer.dims.ndim}"
        )
    displayed = list(viewer.dims.displayed)
    for d in range(offset, viewer.dims.ndim):
        if d not in displayed:
            viewer.dims.set_point(d, world[d - offset])
    camera = _camera(viewer)
    centre = list(camera.center)[-len(displayed) :]
    for k, d in enumerate(displayed):
        if d >= offset:
            centre[k] = world[d - offset]
    camera.center = tuple(centre)


def _camera(viewer: Any) -> Any:
    """The viewer's camera (``viewer.scene.camera`` from napari 0.9, else ``viewer.camera``)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera
