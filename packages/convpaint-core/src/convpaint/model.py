"""``ConvpaintModel``: train on scribbles, segment images, save and load.

The data path, module by module: :mod:`~convpaint.axes` (dimensions) ->
:mod:`~convpaint.normalize` -> :mod:`~convpaint.tiling` (tiles with halos) ->
:mod:`~convpaint.features` (channels, :mod:`~convpaint.pyramid`, extractors)
-> :mod:`~convpaint.classifier` -> labels.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, lazy
from .axes import (
    AxesError,
    Layout,
    annotations_to_canonical,
    from_canonical_spatial,
    resolve_axes,
    to_canonical,
)
from .cache import DEFAULT_CACHE_BYTES, FeatureCache, TileFeatures, Unit
from .cancel import cancel_check
from .classifier import check_classifier, check_training_labels, default_classifier
from .combine import ConcatExtractor
from .extractor import FeatureExtractor
from .features import FeaturePipeline
from .memory import check_prediction, check_training, features_per_pixel
from .normalize import check_finite, check_mode, intensity_range, normalize
from .parallel import default_workers
from .prediction import map_features, predict_tiles, tile_jobs
from .projections import check_projections, check_z_scale, with_projections
from .region import parse_region
from .registry import get_extractor, get_registry
from .tiling import TileGrid, check_positive, round_up
from .training import collect_samples
from .volume import tile_bytes, volume_tile

TRAIN_TILE = 256
MAX_TILE = 2048
COARSE_TO_FINE = 4
TILE_BYTES = 64 * 2**20  # smaller tiles measured faster (cache, parallel tiles)
PARALLEL_BYTES = 2**30  # features of all tiles in flight


class ConvpaintModel:
    """Pixel classifier: extractor features + a random forest trained on scribbles.

    Parameters
    ----------
    extractor : str, list of str or FeatureExtractor, default "ilastik"
        Registered name (see :func:`convpaint.list_extractors`), a combination
        such as ``"vgg16+ilastik"``, or an extractor instance.
    scalings : tuple of int, optional
        Pyramid downscaling factors; default: each extractor's own.
    normalize : {"image", "stack", "none"}, default "image"
        Z-score each channel per 2-D plane, over the whole stack, or not at all.
    classifier : scikit-learn classifier, optional
        Default: ``RandomForestClassifier(n_estimators, max_depth, random_state=seed)``.
    seed, n_estimators, max_depth : parameters of the default random forest.
    tile_size : int, optional
        Edge of tiles in pixels. Default: the extractor's choice, else 256 px for
        training crops and, for prediction, the edge at which one tile's features
        take ~64 MiB (535 px for 56 features, 296 px for 192).
        Volumetric tiles hold every Z plane: their edge is the largest (at least 32 px)
        whose (Z, tile, tile) features and 3-D filter working set take ~384 MiB
        (:mod:`convpaint.volume`).
    volumetric : bool, default False
        Featurise Z stacks as volumes (extractors with 3-D filters) instead of per plane.
    progress : bool, optional
        Show progress bars (default: only on a terminal).
    workers : int, optional
        Tiles processed in parallel threads (default: CPU count, at most 4).
    cache_bytes : int, default 1 GiB
        Budget of the feature cache (:attr:`feature_cache`, least recently used
        tiles evicted first; 0 disables it).  Training stores the features of the
        tiles it computes, so training again on the same pixels (recognised by a
        content hash) with more or fewer scribbles only featurises tiles touched by
        new scribbles.  Predictions whose features fit the budget store and reuse
        them too (interactive re-segmentation of a plane or field of view).
    projections : tuple of {"xy", "xz", "yz"}, default ("xy",)
        Plane families of a Z stack that the (2-D) extractor featurises; more than
        ``("xy",)`` featurises volumes and concatenates the families' features per
        voxel (:mod:`convpaint.projections`).  ``z_scale`` (Z step / pixel size)
        resamples Z for the xz and yz planes of anisotropic stacks.
    coarse_to_fine : int, default 4
        Prediction classifies every ``coarse_to_fine``-th pixel (in Y and X) first and
        then only the pixels whose neighbourhood is not unanimous and confident
        (:mod:`convpaint.refine`); 1 classifies every pixel.
    **extractor_options
        Passed to the extractor, e.g. ``weights="random"`` for ``"vgg16"``.
    """

    def __init__(
        self,
        extractor: str | list[str] | FeatureExtractor = "ilastik",
        *,
        scalings: Sequence[int] | None = None,
        normalize: str = "image",
        classifier: Any = None,
        seed: int = 0,
        n_estimators: int = 100,
        max_depth: int | None = None,
        tile_size: int | None = None,
        volumetric: bool = False,
        progress: bool | None = None,
        workers: int | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        coarse_to_fine: int = COARSE_TO_FINE,
        projections: Sequence[str] = ("xy",),
        z_scale: float = 1.0,
        **extractor_options: Any,
    ) -> None:
        self.extractor = get_extractor(extractor, **extractor_options)
        self.scalings = tuple(scalings) if scalings is not None else None
        self.normalize = check_mode(normalize)
        self.projections = check_projections(projections)  # xz/yz: volumes (convpaint.projections)
        self.z_scale = check_z_scale(z_scale)
        volumetric = volumetric or self.projections != ("xy",)
        wrapped = with_projections(self.extractor, self.projections, self.z_scale)
        self.pipeline = FeaturePipeline(wrapped, self.scalings, self.normalize)
        self.classifier = check_classifier(
            classifier
            if classifier is not None
            else default_classifier(seed, n_estimators, max_depth)
        )
        self.seed = seed
        self.volumetric = bool(volumetric)
        if self.volumetric and not self.pipeline.supports_volume:
            raise ValueError(f"extractor {self.extractor.name!r} has no 3-D (volumetric) mode")
        self.tile_size = check_positive("tile_size", tile_size, optional=True)
        self.progress = progress
        self.workers = default_workers() if workers is None else check_positive("workers", workers)
        self.feature_cache = FeatureCache(cache_bytes)
        if int(coarse_to_fine) != coarse_to_fine or coarse_to_fine < 1:
            raise ValueError(f"coarse_to_fine must be a positive integer, got {coarse_to_fine!r}")
        self.coarse_to_fine = int(coarse_to_fine)
        self.classes_: np.ndarray | None = None
        self.n_channels_: int | None = None
        self.n_features_: int | None = None
        self.axes_: str | None = None

    # -- tiles ---------------------------------------------------------------------------
    def _tile(self, training: bool, depth: int = 1) -> int:
        """Tile edge; volumetric tiles (all ``depth`` planes) sized by their bytes."""
        preferred = [p.extractor.tile_size for p in self.pipeline.parts if p.extractor.tile_size]
        largest = TRAIN_TILE if training else MAX_TILE
        if self.tile_size:
            size = int(self.tile_size)
        elif preferred:
            size = max(preferred)  # global-context extractors: train on the prediction grid
        elif self.volumetric:  # a (Z, tile, tile) block and the 3-D filters' working set
            size = volume_tile(
                depth,
                features_per_pixel(self),
                self.pipeline.halo,
                self._margin(),
                self.pipeline.zpad,
                self.pipeline.align,
                largest=largest,
            )
        elif training:
            size = TRAIN_TILE
        else:  # bound the features held per tile (~TILE_BYTES) whatever their number
            n = self.n_features_ or 64
            size = int(np.clip(np.sqrt(TILE_BYTES / (4 * n)), TRAIN_TILE, MAX_TILE))
        if size < 1:
            raise ValueError(f"tile_size must be positive, got {size}")
        return round_up(size, self.pipeline.align)

    def _margin(self) -> int:
        stride = self.coarse_to_fine
        return round_up(stride, self.pipeline.align) if stride > 1 else 0

    def _grid(self, shape: tuple[int, int], training: bool, depth: int = 1) -> TileGrid:
        """Tiles whose features reach ``coarse_to_fine`` pixels beyond them (see refine);
        ``depth``: planes of a volumetric unit."""
        tile = self._tile(training, depth if self.volumetric else 1)
        return TileGrid(shape, tile, self.pipeline.halo + self._margin())

    # -- input checks --------------------------------------------------------------------
    def _prepare(self, image: Any, axes: str | None) -> tuple[np.ndarray, Layout]:
        image = np.asarray(image)
        check_finite(image)
        try:
            layout = resolve_axes(image.shape, axes)
        except AxesError:
            if axes is not None or not self.axes_ or len(self.axes_) != image.ndim:
                raise
            layout = resolve_axes(image.shape, self.axes_)  # same axes as in training
        canon = to_canonical(image, layout)
        if min(canon.shape[-2:]) < 1:
            raise ValueError(f"image has an empty spatial dimension: {image.shape}")
        n_channels = canon.shape[2]
        if self.n_channels_ is not None and n_channels != self.n_channels_:
            raise ValueError(
                f"image has {n_channels} channel(s) but the model was trained on {self.n_channels_}"
            )
        return canon, layout

    def _units(
        self,
        canon: np.ndarray,
        t: slice = slice(None),
        z: slice = slice(None),
        planes: list[tuple[int, int]] | None = None,
    ) -> list[Unit]:
        """Normalised units of featurisation (planes, or volumes) of ``canon[t, z]``, or of
        the (t, z) ``planes`` only."""
        if planes is not None and not self.volumetric:
            norm = normalize(canon, self.normalize, planes=planes)
            return [Unit(tz, norm[i, 0], norm[i, 0]) for i, tz in enumerate(planes)]
        t0, z0 = t.indices(canon.shape[0])[0], z.indices(canon.shape[1])[0]
        norm = normalize(canon, self.normalize, t, z)
        units = []
        for i in range(norm.shape[0]):
            if self.volumetric:  # (C, Z, Y, X)
                units.append(Unit((t0 + i, slice(None)), np.moveaxis(norm[i], 1, 0), norm[i]))
            else:
                units.extend(
                    Unit((t0 + i, z0 + j), norm[i, j], norm[i, j]) for j in range(norm.shape[1])
                )
        return units

    def _tile_features(self, grid: TileGrid, dtype: np.dtype, store: bool = True) -> TileFeatures:
        """Features of tiles of ``grid`` for an input of ``dtype`` (its range feeds the
        ImageNet path; passed along per call, so threads never share it)."""
        full_scale = intensity_range(dtype)
        config = repr(
            (
                self._metadata_extractor(),
                self.scalings,
                self.normalize,
                self.volumetric,
                full_scale,
            )
        )
        return TileFeatures(self.pipeline, grid, self.feature_cache, config, store, full_scale)

    # -- training ------------------------------------------------------------------------
    def train(
        self,
        image: Any,
        annotations: Any,
        axes: str | None = None,
        *,
        cancel: Any = None,
        callback: Callable[[int, int], None] | None = None,
    ) -> ConvpaintModel:
        """Fit the classifier on the annotated pixels (0 = unlabelled) of one or more images.

        Features of annotated tiles come from :attr:`feature_cache` when the same
        pixels were featurised before.  ``cancel`` (a ``threading.Event`` or a
        callable) stops the call with :class:`convpaint.Cancelled`, leaving the
        model as it was; ``callback(done, total)`` reports the tiles featurised (per image).
        """
        check = cancel_check(cancel)
        _check_callback(callback)
        images = image if isinstance(image, (list, tuple)) else [image]
        labels = annotations if isinstance(annotations, (list, tuple)) else [annotations]
        if len(images) != len(labels):
            raise ValueError(f"got {len(images)} images but {len(labels)} annotation arrays")
        saved = self.n_channels_, self.axes_
        self.n_channels_ = None
        self.axes_ = None
        try:
            xs, ys = [], []
            for img, ann in zip(images, labels, strict=True):
                x, y = self._training_samples(img, ann, axes, check, callback)
                xs.append(x)
                ys.append(y)
            y = np.concatenate(ys)
            classes = check_training_labels(y)
            x = np.concatenate(xs, axis=0)
            check()
        except BaseException:
            self.n_channels_, self.axes_ = saved
            raise
        self.classifier.fit(x, y)
        self.classes_ = classes
        self.n_features_ = x.shape[1]
        return self

    def _training_samples(
        self, image: Any, annotations: Any, axes: str | None, check, callback=None
    ):
        if lazy.is_lazy(image):  # dask/zarr: only the scribbled tiles are read
            return lazy.training_samples(self, image, annotations, axes, check)
        canon, layout = self._prepare(image, axes)
        self.n_channels_ = canon.shape[2]
        self.axes_ = layout.axes
        ann = np.asarray(annotations)
        integral = np.issubdtype(ann.dtype, np.integer) or ann.dtype == bool
        if not integral and not (
            np.issubdtype(ann.dtype, np.floating) and np.all(np.mod(ann, 1) == 0)
        ):
            raise ValueError(f"annotations must be integer class labels, got dtype {ann.dtype}")
        ann = annotations_to_canonical(ann, layout)
        expected = canon.shape[:2] + canon.shape[3:]
        if ann.shape != expected:
            raise ValueError(
                f"annotations shape {np.asarray(annotations).shape} does not match the image's "
                f"spatial shape ({layout.spatial_axes}: {from_canonical_spatial(np.empty(expected), layout).shape})"
            )
        if ann.dtype.kind in "if" and (ann < 0).any():
            raise ValueError("annotations must be >= 0 (0 = unlabelled)")
        check_training(self, canon.shape, ann)  # refuse what cannot fit in memory
        grid = self._grid(canon.shape[-2:], training=True, depth=canon.shape[1])
        t, z = np.nonzero((ann > 0).any(axis=(2, 3)))
        if t.size == 0:
            raise ValueError("annotations are empty: draw at least one scribble (labels > 0)")
        if self.volumetric:
            units = self._units(canon, slice(t.min(), t.max() + 1))
        else:  # only the annotated planes are normalised and featurised
            units = self._units(canon, planes=list(zip(t.tolist(), z.tolist(), strict=True)))
        features = self._tile_features(grid, canon.dtype)
        workers = self._workers_for(grid, canon.shape[1])
        return collect_samples(features, units, ann, grid, workers, self.progress, check, callback)

    # -- prediction ----------------------------------------------------------------------
    def _check_trained(self) -> None:
        if self.classes_ is None:
            raise RuntimeError("the model is not trained: call train() or load_model() first")

    def _predict(self, image, axes, want_proba, region, cancel, callback, out=None, scheduler=None):
        self._check_trained()
        if out is not None:  # streamed, chunk by chunk, resumable (convpaint.stream)
            from .stream import write_prediction

            return write_prediction(
                self, image, out, axes, want_proba, scheduler, cancel, callback, region=region
            )
        if lazy.is_lazy(image):  # a dask graph of tiles (convpaint.lazy)
            return lazy.predict(self, image, axes, want_proba, region, scheduler)
        check = cancel_check(cancel)
        _check_callback(callback)
        canon, layout = self._prepare(image, axes)
        reg = parse_region(region, layout, canon.shape[:2] + canon.shape[3:])
        check_prediction(self, canon.shape, reg, want_proba)  # refuse what cannot fit
        units = self._units(canon, reg.t, slice(None) if self.volumetric else reg.z)
        features = self._prediction_features(canon.shape[-2:], canon.dtype, units, reg)
        jobs = tile_jobs(units, features.grid, reg)
        n_classes = len(self.classes_)
        if want_proba:
            out = np.zeros((n_classes, *reg.shape), dtype=np.float32)

            def write(where, proba):
                out[(slice(None), *where)] = proba
        else:
            out = np.zeros(reg.shape, dtype=_label_dtype(self.classes_))

            def write(where, proba):
                out[where] = self.classes_[np.argmax(proba, axis=0)]

        predict_tiles(
            features,
            self.classifier,
            jobs,
            write,
            self._check_features,
            self._workers_for(features.grid, canon.shape[1]),
            self.progress,
            check,
            callback,
            self.coarse_to_fine,
        )
        lead = 1 if want_proba else 0
        return reg.squeeze(from_canonical_spatial(out, layout, leading=lead), leading=lead)

    def _prediction_features(self, shape, dtype, units: list[Unit], reg) -> TileFeatures:
        """Cache-backed features on the training grid when the region's features fit in half
        the cache (a plane or field of view of the interactive loop), else large tiles
        (fewer halo pixels) without caching (whole large images: bounded memory)."""
        depth = units[0].data.shape[1] if units[0].data.ndim == 4 else 1
        train_grid = self._grid(shape, training=True, depth=depth)
        n_tiles = len(train_grid.within(reg.rows, reg.cols)) * len(units)
        per_pixel = 4 * self.n_features_ * self.pipeline.stored_fraction
        est = per_pixel * n_tiles * depth * train_grid.tile**2
        if self.feature_cache.max_bytes and est <= self.feature_cache.max_bytes / 2:
            return self._tile_features(train_grid, dtype, store=True)
        return self._tile_features(self._grid(shape, False, depth), dtype, store=False)

    def _workers_for(self, grid: TileGrid, depth: int = 1) -> int:
        """Parallel tiles, fewer when one tile's features are large (e.g. 1024-feature ViTs,
        volumetric tiles of ``depth`` planes)."""
        if self.volumetric:
            p = self.pipeline
            n = features_per_pixel(self)
            block_bytes = tile_bytes(grid.tile, depth, n, p.halo, self._margin(), p.zpad)
            return max(1, min(self.workers, PARALLEL_BYTES // block_bytes))
        if not self.n_features_:
            return self.workers
        block_bytes = 4 * self.n_features_ * (grid.tile + 2 * grid.halo) ** 2
        return max(1, min(self.workers, PARALLEL_BYTES // block_bytes))

    def _check_features(self, n: int) -> None:
        if self.n_features_ is not None and n != self.n_features_:
            raise ValueError(
                f"the extractor gives {n} features per pixel but the classifier was trained on "
                f"{self.n_features_} (different extractor options, scalings or channel count?)"
            )

    def predict_proba(
        self,
        image: Any,
        axes: str | None = None,
        *,
        region: Any = None,
        cancel: Any = None,
        callback: Callable[[int, int], None] | None = None,
        out: Any = None,
        scheduler: Any = None,
    ) -> Any:
        """Class probabilities, shape (n_classes, *spatial shape of image).

        ``region``, ``cancel`` and ``callback`` as in :meth:`segment`; the result
        equals ``predict_proba(image)[(slice(None), *region)]``.
        """
        return self._predict(image, axes, True, region, cancel, callback, out, scheduler)

    def segment(
        self,
        image: Any,
        axes: str | None = None,
        *,
        region: Any = None,
        cancel: Any = None,
        callback: Callable[[int, int], None] | None = None,
        out: Any = None,
        scheduler: Any = None,
    ) -> Any:
        """Label image with the image's spatial shape and the annotation's class values.

        Parameters
        ----------
        region : tuple of int and slice, optional
            Part of the image to predict, indexing its spatial axes (channel axis
            left out) like NumPy: ``segment(img, region=R) == segment(img)[R]``.
            E.g. ``(5,)`` is plane 5 of a ZYX stack, ``(slice(0, 512), slice(256, 768))``
            a field of view.  Only the tiles it touches are featurised.
        cancel : threading.Event or callable, optional
            Checked between tiles; once set the call raises :class:`convpaint.Cancelled`
            and returns nothing.
        callback : callable, optional
            ``callback(done, total)`` after each tile, in the calling thread.
        out : str, path or zarr group, optional
            Write the result chunk by chunk into this zarr/OME-Zarr store instead of
            returning it; an interrupted run resumes (:mod:`convpaint.stream`).
        scheduler : optional
            Dask scheduler for lazy inputs and ``out=``: ``"threads"`` (default),
            ``"synchronous"`` or a ``dask.distributed.Client``.

        A dask or zarr ``image`` without ``out`` gives a dask array (:mod:`convpaint.lazy`).
        """
        return self._predict(image, axes, False, region, cancel, callback, out, scheduler)

    def compute_features(self, image: Any, axes: str | None = None) -> np.ndarray:
        """All features, shape (n_features, *spatial shape); for inspection and benchmarks."""
        canon, layout = self._prepare(image, axes)
        tile = self._tile(False, canon.shape[1])
        grid = TileGrid(canon.shape[-2:], tile, self.pipeline.halo)
        features = self._tile_features(grid, canon.dtype, store=False)
        out = None
        for where, feats in map_features(features, self._units(canon), grid):
            if out is None:
                spatial = canon.shape[:2] + canon.shape[3:]
                out = np.zeros((feats.shape[0], *spatial), np.float32)
            out[(slice(None), *where)] = feats
        return from_canonical_spatial(out, layout, leading=1)

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the trained model to one ``.npz`` file (atomically; loads without pickle)."""
        from .model_file import save_model

        self._check_trained()
        return save_model(path, self._metadata(), self.classifier)

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
            "classes": self.classes_.tolist(),
        }

    def __repr__(self) -> str:
        state = f"classes={self.classes_.tolist()}" if self.classes_ is not None else "untrained"
        return f"ConvpaintModel(extractor={self.extractor.name!r}, {state})"


def _label_dtype(classes: np.ndarray) -> np.dtype:
    return np.result_type(
        np.min_scalar_type(int(classes.max())), np.min_scalar_type(int(classes.min()))
    )


def _check_callback(callback: Any) -> None:
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as callback(done, total), got {callback!r}")
