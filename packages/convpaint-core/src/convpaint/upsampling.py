"""Feature upsamplers in the pipeline: which parts they apply to, calls, checks, model files.

``ConvpaintModel("dinov2", upsampler="guided")`` gives :class:`~convpaint.features.
FeaturePipeline` an upsampler.  It applies to every part whose extractor returns one
feature vector per patch (``patch_size > 1``), at each of its scalings (factor
``patch_size * scaling``); per-pixel extractors (``patch_size 1``) keep the bilinear
upsampling of their pyramid levels, also inside a combination (``"vgg16+dinov2"``).
The upsampled features become a factor-1 level of :class:`~convpaint.feature_maps.
FeatureMaps`, so training (:meth:`FeatureMaps.at`) and prediction read the same values,
and the pipeline's halo grows by the upsampler's :meth:`~convpaint.upsampler.
FeatureUpsampler.context`.  Model files store the upsampler's name, options and package
(field ``upsampler``; absent without one, so older files keep their fingerprints).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .cancel import Cancelled
from .extractor import FeatureExtractor
from .registry import package_versions
from .upsampler import FeatureUpsampler, UpsamplerError
from .upsampler_registry import describe_upsampler, get_upsampler_registry, resolve_upsampler

__all__ = ["ModelUpsampling", "resolve_upsampler", "upsampled_parts"]


def upsampled_parts(
    parts: Sequence[FeatureExtractor], upsampler: FeatureUpsampler | None
) -> list[FeatureUpsampler | None]:
    """The upsampler of each part: ``upsampler`` for patch extractors, else None."""
    if upsampler is None:
        return [None] * len(parts)
    if not isinstance(upsampler, FeatureUpsampler):
        raise TypeError(f"upsampler must be a FeatureUpsampler, got {type(upsampler).__name__}")
    chosen = [upsampler if int(p.patch_size) > 1 else None for p in parts]
    if not any(chosen):
        names = "+".join(p.name for p in parts)
        raise ValueError(
            f"upsampler {upsampler.name!r} applies to extractors with patch features "
            f"(patch_size > 1, e.g. dinov2); {names!r} has none"
        )
    return chosen


def up_call(
    up: FeatureUpsampler, features: np.ndarray, guide: np.ndarray, factor: int
) -> np.ndarray:
    """``up.upsample(...)``; a failure becomes an :class:`UpsamplerError` naming it."""
    try:
        return up.upsample(features, guide, int(factor))
    except (UpsamplerError, MemoryError, Cancelled):
        raise
    except Exception as exc:
        raise UpsamplerError(
            f"{describe_upsampler(up)} failed: {type(exc).__name__}: {exc}"
        ) from exc


def check_upsampled(
    up: FeatureUpsampler, out: Any, features: np.ndarray, guide: np.ndarray
) -> np.ndarray:
    """``out`` as (F, H, W) float32 features, or an :class:`UpsamplerError` naming ``up``."""
    expected = (features.shape[0], *guide.shape[-2:])
    arr = np.asarray(out)
    problem = ""
    if arr.dtype.kind not in "fiu":
        problem = f"features of dtype {arr.dtype}; expected float32"
    elif arr.shape != expected:
        problem = f"features of shape {arr.shape}; expected {expected}"
    else:
        with np.errstate(over="ignore"):
            arr = np.asarray(arr, dtype=np.float32)
        if not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
            problem = "NaN or infinite features"
    if problem:
        raise UpsamplerError(f"{describe_upsampler(up)} returned {problem}")
    return arr


def upsampler_metadata(up: FeatureUpsampler) -> dict[str, Any]:
    """The model file's ``upsampler`` field: name, options and package."""
    spec = get_upsampler_registry()._specs.get(up.name)
    package = spec.distribution if spec is not None else ""
    return {"name": up.name, "options": up.get_options(), "package": package}


class ModelUpsampling:
    """``ConvpaintModel``'s upsampler in its metadata (mixed in before ``ModelOutputs``)."""

    upsampler: FeatureUpsampler | None

    def _metadata(self) -> dict[str, Any]:
        meta = super()._metadata()  # type: ignore[misc]
        if self.upsampler is not None:
            meta["upsampler"] = upsampler_metadata(self.upsampler)
            package = meta["upsampler"]["package"]
            if package and "versions" in meta:
                meta["versions"] = {**meta["versions"], **package_versions([package])}
        return meta
