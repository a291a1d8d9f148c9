"""``ConvpaintModel``: the facade. Train on scribbles, segment images, save and load.

The data path, module by module: :mod:`~convpaint.inputs` (one validator for
NumPy, dask and zarr) -> :mod:`~convpaint.units` (normalised planes) ->
:mod:`~convpaint.plan` / :mod:`~convpaint.tiling` (tiles with halos) ->
:mod:`~convpaint.features` (channels, :mod:`~convpaint.pyramid`, extractors) ->
:mod:`~convpaint.training` or :mod:`~convpaint.prediction` (classifier) -> labels,
returned in memory, as a dask array (:mod:`~convpaint.lazy`) or streamed into a
zarr store (:mod:`~convpaint.stream`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import (
    forest_kernel,  # noqa: F401 (registers the forest walk's warm-up with jit)
    jit,
    lazy,
    scaled,
)
from .axes import from_canonical_spatial
from .cache import DEFAULT_CACHE_BYTES, FeatureCache, TileFeatures, Unit
from .cancel import cancel_check, check_callback
from .class_names import NamedClasses, check_class_colors, check_class_names
from .classifier import (
    check_classifier,
    default_classifier,
    label_dtype,
)
from .extractor import FeatureExtractor
from .features import FeaturePipeline
from .inputs import is_lazy, prepare_image
from .memory import check_prediction
from .model_training import ModelTraining
from .normalize import check_mode, intensity_range
from .outputs import ModelOutputs
from .parallel import default_workers
from .plan import TilePlan, TilePlanner
from .prediction import Predictor, predict_tiles, tile_jobs
from .projections import check_projections, check_z_scale, with_projections
from .region import parse_region
from .registry import get_extractor
from .rescale import check_downsample
from .smoothing import check_smooth
from .tiling import TileGrid, check_positive
from .units import make_units
from .upsampling import ModelUpsampling, resolve_upsampler

COARSE_TO_FINE = 4


class ConvpaintModel(ModelUpsampling, ModelTraining, ModelOutputs, NamedClasses):
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
    fit : {"auto", "sklearn", "intelex"}, default "auto"
        Who grows the default forest (:mod:`convpaint.fast_fit`): scikit-learn, or
        scikit-learn-intelex (``pip install "convpaint-core[fast]"``; 4-11x less CPU from
        1000 samples, stored as plain scikit-learn trees); "auto": ``$CONVPAINT_FIT``,
        else intelex when installed.
    tile_size : int, optional
        Edge of tiles in pixels. Default: the extractor's choice, else 256 px for
        training crops and, for prediction, the edge at which one tile's features
        take ~64 MiB (547 px for 56 features, 296 px for 192).
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
    class_names, class_colors : mapping, optional
        ``{value: name}`` and ``{value: "#rrggbb"}`` of the classes (default "class 1",
        ... and a fixed palette); stored in model files, not part of the fingerprint.
    downsample : int, default 1
        Train, featurise and classify at 1/k resolution in Y and X; results come back
        at full size (:mod:`convpaint.scaled`): segmenting 4.2x faster at k=2, 9.9x at
        k=4 (1024² DSB, ilastik), coarser borders (docs/postprocess.md).
    smooth : int, default 0
        Radius of a box smoothing of the class probabilities before the labels are
        taken (0: none).
    coarse_to_fine : int, default 4
        Prediction classifies every ``coarse_to_fine``-th pixel (in Y and X) first and
        then only the pixels whose neighbourhood is not unanimous and confident
        (:mod:`convpaint.refine`); 1 classifies every pixel.
    upsampler, upsampler_options : str or FeatureUpsampler, and dict, optional
        Patch features (ViTs) to pixels by e.g. ``"guided"`` (:mod:`convpaint.upsampling`).
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
        fit: str = "auto",
        tile_size: int | None = None,
        volumetric: bool = False,
        progress: bool | None = None,
        workers: int | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        coarse_to_fine: int = COARSE_TO_FINE,
        projections: Sequence[str] = ("xy",),
        z_scale: float = 1.0,
        class_names: Any = None,
        class_colors: Any = None,
        downsample: int = 1,
        smooth: int = 0,
        upsampler: Any = None,
        upsampler_options: dict[str, Any] | None = None,
        **extractor_options: Any,
    ) -> None:
        # numba and the compiled kernels load on a thread meanwhile (once per process)
        jit.preload_in_background()
        self.extractor = get_extractor(extractor, **extractor_options)
        self.scalings = tuple(scalings) if scalings is not None else None
        self.normalize = check_mode(normalize)
        self.projections = check_projections(projections)  # xz/yz: volumes (convpaint.projections)
        self.z_scale = check_z_scale(z_scale)
        if not isinstance(volumetric, (bool, np.bool_)):
            raise TypeError(f"volumetric must be True or False, got {volumetric!r}")
        volumetric = bool(volumetric) or self.projections != ("xy",)
        wrapped = with_projections(self.extractor, self.projections, self.z_scale)
        self.upsampler = resolve_upsampler(upsampler, upsampler_options)
        self.pipeline = FeaturePipeline(wrapped, self.scalings, self.normalize, self.upsampler)
        self.classifier = check_classifier(
            classifier
            if classifier is not None
            else default_classifier(seed, n_estimators, max_depth, fit=fit)
        )
        self.seed = seed
        self.volumetric = volumetric
        if self.volumetric and not self.pipeline.supports_volume:
            raise ValueError(f"extractor {self.extractor.name!r} has no 3-D (volumetric) mode")
        self.tile_size = check_positive("tile_size", tile_size, optional=True)
        self.progress = progress
        check_positive("workers", workers, optional=True)
        self.workers: int = default_workers() if workers is None else int(workers)
        self.feature_cache = FeatureCache(cache_bytes)
        if (
            isinstance(coarse_to_fine, bool)
            or int(coarse_to_fine) != coarse_to_fine
            or (coarse_to_fine < 1)
        ):
            raise ValueError(f"coarse_to_fine must be a positive integer, got {coarse_to_fine!r}")
        self.coarse_to_fine = int(coarse_to_fine)
        self.planner = TilePlanner(
            self.pipeline,
            tile_size=self.tile_size,
            volumetric=self.volumetric,
            workers=self.workers,
            coarse_to_fine=self.coarse_to_fine,
        )
        self._class_names = check_class_names(class_names)
        self._class_colors = check_class_colors(class_colors)
        self.downsample = check_downsample(downsample)
        self.smooth = check_smooth(smooth)
        self.classes_: np.ndarray | None = None
        self.training_: dict[str, Any] = {}  # sample counts of the last train()
        self.n_channels_: int | None = None
        self.n_features_: int | None = None
        self.axes_: str | None = None
        # one training at a time; readers take the fitted state as a whole (see _fitted)
        self._training = threading.Lock()
        self._state = threading.RLock()

    # -- state ---------------------------------------------------------------------------
    def _fitted(self) -> tuple[Any, np.ndarray, int, int | None, str | None]:
        """(classifier, classes, n_features, n_channels, axes), consistent with each other
        even while another thread trains."""
        with self._state:
            if self.classes_ is None:
                raise RuntimeError("the model is not trained: call train() or load_model() first")
            return (
                self.classifier,
                np.asarray(self.classes_),
                int(self.n_features_ or 0),
                self.n_channels_,
                self.axes_,
            )

    def plan(self, shape: tuple[int, int], *, training: bool, depth: int = 1) -> TilePlan:
        """The tile plan (tile edge, halo, workers) for planes of ``shape`` (Y, X)."""
        return self.planner.plan(
            shape,
            training=training,
            depth=depth,
            n_features=self.n_features_,
            n_channels=self.n_channels_,
        )

    def _features(self, grid: TileGrid, full_scale: float, store: bool = True) -> TileFeatures:
        """Features of tiles of ``grid`` for an input whose dtype has range ``full_scale``
        (it feeds the ImageNet path; passed along per call, so threads never share it)."""
        settings = (self.scalings, self.normalize, self.volumetric, full_scale, self.upsampler)
        config = repr((self._metadata_extractor(), *settings))
        return TileFeatures(self.pipeline, grid, self.feature_cache, config, store, full_scale)

    # -- prediction ----------------------------------------------------------------------
    def _predict(
        self, image, axes, want_proba, region, cancel, callback, out, scheduler, smooth, downsample
    ):
        scale = scaled.Scale.of(self, smooth, downsample)
        if out is not None:  # streamed, chunk by chunk, resumable (convpaint.stream)
            if region is not None:
                raise ValueError("region= and out= cannot be combined: slice the input instead")
            what = ("proba",) if want_proba else ("labels",)
            return self.write(
                image,
                out,
                axes,
                what=what,
                scheduler=scheduler,
                cancel=cancel,
                callback=callback,
                smooth=scale.smooth,
                downsample=scale.downsample,
            )
        check = cancel_check(cancel)
        check_callback(callback)
        fitted = self._fitted()
        canon, layout = prepare_image(image, axes, fitted[3], fitted[4])
        reg = parse_region(region, layout, canon.shape[:2] + canon.shape[3:])
        result = self._canonical(canon, reg, fitted, want_proba, check, callback, scale)
        lead = 1 if want_proba else 0
        return reg.squeeze(from_canonical_spatial(result, layout, leading=lead), leading=lead)

    def _canonical(self, canon, reg, fitted, want_proba, check, callback, scale=None):
        """Canonical (K,) T, Z, Y, X probabilities or labels of region ``reg``: NumPy, or a
        dask graph with one task per tile for a lazy input (:mod:`convpaint.lazy`)."""
        if scale is not None and scale.active:  # 1/k resolution, smoothing (convpaint.scaled)
            return scale.predict(self._canonical, canon, reg, fitted, want_proba, check, callback)
        classifier, classes, n_features = fitted[:3]
        full_scale = intensity_range(canon.dtype) if scale is None else scale.full_scale(canon)
        depth = canon.shape[1]
        plan = self.planner.plan(
            canon.shape[-2:], training=False, depth=depth, n_features=n_features
        )
        if is_lazy(canon):
            check()
            units = make_units(canon, self.normalize, self.volumetric, reg.t, reg.z)
            predictor = self._predictor(plan, fitted, full_scale)
            jobs = tile_jobs(units, plan.grid, reg)
            progress = lazy.Progress(check, callback, len(jobs))
            return lazy.predict(predictor, units, jobs, want_proba, progress)
        dtype = label_dtype(classes)
        itemsize = 4 * len(classes) if want_proba else dtype.itemsize
        check_prediction(plan, self.pipeline.zpad, self.feature_cache, canon.shape, reg, itemsize)
        args = (canon, self.normalize, self.volumetric, reg.t, reg.z)
        units = make_units(*args, cache=self.feature_cache)  # after the guard
        features, plan = self._prediction_features(
            canon.shape[-2:], full_scale, units, reg, plan, n_features
        )
        predictor = self._predictor(plan, fitted, full_scale)
        jobs = tile_jobs(units, plan.grid, reg)
        if want_proba:
            result = np.zeros((len(classes), *reg.shape), dtype=np.float32)

            def write(where, proba):
                result[(slice(None), *where)] = proba
        else:
            result = np.zeros(reg.shape, dtype=dtype)

            def write(where, labels):
                result[where] = labels

        predict_tiles(
            features, predictor, jobs, write, self.progress, check, callback, not want_proba
        )
        return result

    def _predictor(self, plan, fitted, full_scale) -> Predictor:
        classifier, classes, n_features = fitted[:3]
        return Predictor(
            self.pipeline,
            classifier,
            classes,
            n_features,
            plan,
            full_scale,
            self.coarse_to_fine,
            label_dtype(classes),
        )

    def _prediction_features(self, shape, full_scale, units: list[Unit], reg, plan, n_features):
        """Cache-backed features on the training grid when the region's features fit in half
        the cache (a plane or field of view of the interactive loop), else large tiles
        (fewer halo pixels) without caching (whole large images: bounded memory)."""
        depth = units[0].data.shape[1] if units[0].data.ndim == 4 else 1
        train = self.planner.plan(shape, training=True, depth=depth, n_features=n_features)
        n_tiles = len(train.grid.within(reg.rows, reg.cols)) * len(units)
        per_pixel = 4 * n_features * self.pipeline.stored_fraction
        est = per_pixel * n_tiles * depth * train.grid.tile**2
        if self.feature_cache.max_bytes and est <= self.feature_cache.max_bytes / 2:
            return self._features(train.grid, full_scale, store=True), train
        return self._features(plan.grid, full_scale, store=False), plan

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
        smooth: int | None = None,
        downsample: int | None = None,
    ) -> Any:
        """Class probabilities, shape (n_classes, *spatial shape of image).

        ``region``, ``cancel``, ``callback``, ``smooth`` and ``downsample`` as in
        :meth:`segment`; the result equals ``predict_proba(image)[(slice(None), *region)]``.
        """
        args = (out, scheduler, smooth, downsample)
        return self._predict(image, axes, True, region, cancel, callback, *args)

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
        smooth: int | None = None,
        downsample: int | None = None,
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

        smooth, downsample : int, optional
            Override the model's ``smooth`` radius and ``downsample`` factor for this
            call (the model was trained at its own ``downsample``: another one changes
            the scale its features see).  Either makes labels the most probable class
            of the full probabilities (no coarse-to-fine shortcut).

        A dask or zarr ``image`` without ``out`` gives a dask array (:mod:`convpaint.lazy`);
        ``cancel`` and ``callback`` then act when it is computed in this process.
        """
        args = (out, scheduler, smooth, downsample)
        return self._predict(image, axes, False, region, cancel, callback, *args)

    def suggest(self, image: Any, n: int = 3, **options: Any) -> list:
        """Where to scribble next: the ``n`` boxes where this model is least sure
        (:func:`convpaint.suggest`; ``annotations=`` excludes painted pixels)."""
        from .suggest import suggest

        return suggest(self, image, n, **options)

    def __repr__(self) -> str:
        state = f"classes={self.classes_.tolist()}" if self.classes_ is not None else "untrained"
        return f"ConvpaintModel(extractor={self.extractor.name!r}, {state})"
