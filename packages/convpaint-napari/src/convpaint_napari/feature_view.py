"""The feature view: one plane's features as an RGB image (PCA to 3 components), to see
what an extractor responds to before choosing it.

The features of the plane (``model.compute_features``; no training needed) are
standardised per feature, projected on their three main components (eigenvectors of
the feature covariance, signs fixed: deterministic) and each component is stretched to
[0, 1] between its 1st and 99th percentiles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FEATURES = "features"  # layer name prefix: "features (ilastik)"
_PERCENTILES = (1.0, 99.0)


def _layout(image: Any, axes: str | None, model: Any) -> str:
    """The full axes string of ``image`` (given, guessed, or the trained model's)."""
    from convpaint.axes import resolve_image_axes

    return resolve_image_axes(tuple(np.shape(image)), axes, getattr(model, "axes_", None)).axes


def _plane_index(letters: str, plane: Any) -> list[int]:
    """One index per T/Z axis of ``letters`` (spatial axes only) from ``plane``."""
    lead = [a for a in letters if a in "TZ"]
    if plane is None:
        return [0] * len(lead)
    if not isinstance(plane, tuple):
        plane = (plane,)
    ints = [p for p in plane if not isinstance(p, slice)]
    if len(plane) == len(letters):  # a region over every spatial axis
        ints = [p for p, a in zip(plane, letters, strict=True) if a in "TZ"]
        if any(isinstance(p, slice) for p in ints):
            raise ValueError(f"plane {plane!r} must give an index for every T/Z axis ({letters})")
    if len(ints) != len(lead):
        raise ValueError(
            f"plane {plane!r}: give one index per T/Z axis of the image ({''.join(lead)!r})"
        )
    for p in ints:
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"plane indices must be integers, got {p!r}")
    return [int(p) for p in ints]


def plane_of(image: Any, axes: str, plane: Any, keep_z: bool = False) -> tuple[Any, str, int]:
    """(the 2-D plane of ``image`` with its channel axis, its axes, the Z index) at
    ``plane``; ``keep_z``: the whole Z axis stays (a volume), its index is returned."""
    spatial = axes.replace("C", "")
    index = iter(_plane_index(spatial, plane))
    key: list[Any] = []
    z = 0
    for a, n in zip(axes, np.shape(image), strict=True):
        if a in "TZ":
            i = next(index)
            if not -n <= i < n:
                raise IndexError(f"plane index {i} is out of range for axis {a} of size {n}")
            if a == "Z" and keep_z:
                z = i % n
            key.append(slice(None) if a == "Z" and keep_z else i % n)
        else:
            key.append(slice(None))
    kept = "".join(a for a in axes if a not in "TZ" or (a == "Z" and keep_z))
    return np.asarray(image[tuple(key)]), kept, z


def pca_rgb(features: np.ndarray) -> np.ndarray:
    """(F, H, W) features -> (H, W, 3) float32 in [0, 1]: the three main components
    of the standardised features, each stretched between its 1st and 99th percentile
    (fewer than three features: the missing channels are 0)."""
    features = np.asarray(features, np.float32)
    if features.ndim != 3:
        raise ValueError(f"features must be (n_features, Y, X), got shape {features.shape}")
    f, h, w = features.shape
    x = features.reshape(f, -1).astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    x /= np.where(std > 0, std, 1)
    cov = x @ x.T / max(x.shape[1], 1)
    values, vectors = np.linalg.eigh(cov)  # ascending
    k = min(3, f)
    vectors = vectors[:, ::-1][:, :k]
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(k)])
    vectors *= np.where(signs == 0, 1, signs)  # the largest loading positive: deterministic
    comps = vectors.T @ x  # (k, H*W)
    rgb = np.zeros((3, h * w), np.float32)
    for i, c in enumerate(comps):
        lo, hi = np.percentile(c, _PERCENTILES)
        if hi > lo:
            rgb[i] = np.clip((c - lo) / (hi - lo), 0, 1)
    return np.moveaxis(rgb.reshape(3, h, w), 0, -1)


def feature_rgb(model: Any, image: Any, axes: str | None = None, plane: Any = None) -> np.ndarray:
    """The features of one plane of ``image`` as an (H, W, 3) float32 RGB image in [0, 1].

    ``plane``: which T/Z plane (an index, a tuple of indices, or a region over the
    spatial axes as from :func:`.layers.plane_region`); None: the first.  ``model``
    may be untrained: features need no training.  A volumetric model featurises the
    whole Z stack (3-D filters) and shows the plane's features.
    """
    if model is None or not hasattr(model, "compute_features"):
        raise TypeError(f"model must be a ConvpaintModel, got {type(model).__name__}")
    letters = _layout(image, axes, model)
    volume = bool(getattr(model, "volumetric", False)) and "Z" in letters
    flat, flat_axes, z = plane_of(image, letters, plane, keep_z=volume)
    features = model.compute_features(flat, flat_axes)  # (F, [Z,] Y, X), Y/X in any order
    spatial = flat_axes.replace("C", "")
    if volume:  # 3-D features of the volume, then the plane
        features = np.take(features, z, axis=1 + spatial.index("Z"))
        spatial = spatial.replace("Z", "")
    if spatial == "XY":
        features = np.swapaxes(features, 1, 2)
    return pca_rgb(features)


def _spatial_placement(layer: Any, axes: str) -> dict[str, list[float]]:
    keep = [i for i, a in enumerate(axes) if a in "YX"]
    return {
        "scale": [layer.scale[i] for i in keep],
        "translate": [layer.translate[i] for i in keep],
    }


def show_features(viewer: Any, model: Any, image_layer: Any, axes: str | None = None) -> Any:
    """Add (or update) the RGB image layer "features (<extractor>)" with the features
    of the plane the viewer shows of ``image_layer``."""
    from . import layers

    if image_layer is None:
        raise ValueError("pick an image layer first")
    if axes is None:
        axes = layers.guess_axes(image_layer)
    axes = layers.check_axes(axes, tuple(image_layer.data.shape))
    region = layers.plane_region(viewer, image_layer, axes)
    rgb = feature_rgb(model, image_layer.data, axes, region)
    name = f"{FEATURES} ({model.extractor.name})"
    placement = _spatial_placement(image_layer, axes)
    existing = layers.find_layer(viewer, name, type(image_layer))
    if existing is not None and existing.data.shape == rgb.shape:
        existing.data = rgb
        return existing
    if existing is not None:
        viewer.layers.remove(existing)
    return viewer.add_image(rgb, name=name, rgb=True, contrast_limits=(0.0, 1.0), **placement)
