"""The outputs of a trained :class:`~convpaint.model.ConvpaintModel` beyond labels: results
streamed into zarr stores, all features of an image, model files, the model's fingerprint
and settings."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, lazy, stream
from .axes import from_canonical_spatial
from .cancel import cancel_check, check_callback
from .combine import ConcatExtractor
from .inputs import is_lazy, prepare_image
from .normalize import intensity_range
from .prediction import map_features
from .region import parse_region
from .registry import get_registry, package_versions
from .tiling import TileGrid
from .units import make_units


class ModelOutputs:
    """Writing results and files: mixed into ``ConvpaintModel`` (uses its fitted state)."""

    extractor: Any
    scalings: Any
    normalize: str
    volumetric: bool
    projections: tuple[str, ...]
    z_scale: float
    tile_size: int | None
    coarse_to_fine: int
    classifier: Any
    classes_: Any
    n_channels_: int | None
    n_features_: int | None
    axes_: str | None
    progress: bool | None
    pipeline: Any
    _state: Any
    _features: Callable[..., Any]
    downsample: int
    smooth: int
    class_names: dict[int, str]
    class_colors: dict[int, str]
    training_: dict[str, Any]
    _fitted: Callable[..., Any]
    _canonical: Callable[..., Any]
    plan: Callable[..., Any]

    # -- streamed results ----------------------------------------------------------------
    def write(
        self,
        image: Any,
        out: Any,
        axes: str | None = None,
        *,
        what: Sequence[str] = ("labels",),
        scheduler: Any = None,
        cancel: Any = None,
        callback: Callable[[int, int], None] | None = None,
        scale: dict[str, float] | None = None,
        units: dict[str, str] | None = None,
        smooth: int | None = None,
        downsample: int | None = None,
    ) -> Any:
        """Segment ``image`` (NumPy, dask or zarr) into the zarr/OME-Zarr store ``out``
        block by block; an interrupted run resumes (:mod:`convpaint.stream`).

        ``what``: ``("labels",)``, ``("proba",)`` or both.  The store records the
        model's fingerprint and a content hash of the input: a store written from
        another model or input is refused, never handed out as this one's.
        ``smooth``/``downsample`` as in ``segment`` (recorded with the model's identity).
        Returns the zarr group.
        """
        from .scaled import Scale

        what = stream.check_what(what)
        check = cancel_check(cancel)
        check_callback(callback)
        how = Scale.of(self, smooth, downsample)
        fitted = self._fitted()
        classes = fitted[1]
        canon, layout = prepare_image(
            image if is_lazy(image) else stream.as_lazy(image), axes, fitted[3], fitted[4]
        )
        reg = parse_region(None, layout, canon.shape[:2] + canon.shape[3:])
        proba = "proba" in what
        result = self._canonical(canon, reg, fitted, proba, lambda: None, None, how)
        result = from_canonical_spatial(result, layout, leading=1 if proba else 0)
        model = self.fingerprint()
        if (how.smooth, how.downsample) != (self.smooth, self.downsample):  # a call's own
            model += f"+smooth={how.smooth}+downsample={how.downsample}"
        identity = {
            "model": model,
            "input": lazy.digest(canon, scheduler=scheduler),
        }
        return stream.write_result(
            result,
            out,
            what=what,
            classes=classes,
            spatial_axes=layout.spatial_axes,
            identity=identity,
            workers=self.plan(canon.shape[-2:], training=False, depth=canon.shape[1]).workers,
            scheduler=scheduler,
            check=check,
            callback=callback,
            progress=self.progress,
            scale=scale,
            units=units,
            sources=[image],
            names=self.class_names,
            colors=self.class_colors,
        )

    def compute_features(self, image: Any, axes: str | None = None) -> np.ndarray:
        """All features, shape (n_features, *spatial shape); for inspection and benchmarks."""
        canon, layout = prepare_image(image, axes, self.n_channels_, self.axes_)
        canon = np.asarray(canon)
        plan = self.plan(canon.shape[-2:], training=False, depth=canon.shape[1])
        grid = TileGrid(canon.shape[-2:], plan.grid.tile, self.pipeline.halo)
        features = self._features(grid, intensity_range(canon.dtype), store=False)
        units = make_units(canon, self.normalize, self.volumetric)
        out = None
        for where, feats in map_features(features, units, grid):
            if out is None:
                spatial = canon.shape[:2] + canon.shape[3:]
                out = np.zeros((feats.shape[0], *spatial), np.float32)
            out[(slice(None), *where)] = feats
        assert out is not None  # an image has at least one tile
        return from_canonical_spatial(out, layout, leading=1)

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the trained model to one ``.npz`` file (atomically; loads without pickle)."""
        from .model_file import save_model

        with self._state:
            self._fitted()
            return save_model(path, self._metadata(), self.classifier)

    def fingerprint(self) -> str:
        """Digest of everything that decides this model's results (trees, leaf values,
        classes, extractor options, normalisation, scalings): what its model file holds."""
        from .model_file import model_fingerprint

        with self._state:
            self._fitted()
            return model_fingerprint(self._metadata(), self.classifier)

    def _metadata_extractor(self) -> dict[str, Any]:
        parts = (
            self.extractor.parts
            if isinstance(self.extractor, ConcatExtractor)
            else [self.extractor]
        )
        registry = get_registry()
        packages = {}
        for part in parts:
            try:
                packages[part.name] = registry.spec(part.name).distribution
            except Exception:
                packages[part.name] = ""
        return {
            "names": [p.name for p in parts],
            "options": {p.name: p.get_options() for p in parts},
            "packages": packages,
        }

    def _metadata(self) -> dict[str, Any]:
        packages = self._metadata_extractor()["packages"]
        return {
            "convpaint_version": __version__,
            "extractor": self._metadata_extractor(),
            "scalings": list(self.scalings) if self.scalings else None,
            "normalize": self.normalize,
            "volumetric": self.volumetric,
            "projections": list(self.projections),
            "z_scale": self.z_scale,
            "tile_size": self.tile_size,
            "coarse_to_fine": self.coarse_to_fine,
            "n_channels": self.n_channels_,
            "axes": self.axes_,
            "n_features": self.n_features_,
            "classes": np.asarray(self.classes_).tolist(),
            "downsample": self.downsample,
            "smooth": self.smooth,
            # display and provenance: not part of the fingerprint (model_file)
            "class_names": {str(v): n for v, n in self.class_names.items()},
            "class_colors": {str(v): c for v, c in self.class_colors.items()},
            "training": self.training_,
            "versions": package_versions(["convpaint-core", *packages.values()]),
        }
