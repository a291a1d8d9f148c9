"""``ConvpaintModel.train``: scribbles -> training samples -> a freshly fitted classifier.

Samples come from :mod:`convpaint.training` (the features of the scribbled pixels of
the tiles that hold them); the fitted classifier replaces the old one as a whole, so
readers in other threads see the model before or after, never half-trained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from . import scaled
from .cancel import cancel_check, check_callback
from .classifier import check_training_labels, fresh_copy
from .inputs import is_lazy, prepare_annotations, prepare_image
from .memory import check_training
from .normalize import intensity_range
from .progressive import full_classifier
from .training import annotated_planes, collect_samples
from .units import make_units

M = TypeVar("M", bound="ModelTraining")


@dataclass(frozen=True)
class TrainingSamples:
    """What one ``train`` call fits on: (n, F) features ``x``, labels ``y``, and the
    model state they imply (classes, images, channels, axes)."""

    x: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    n_images: int
    n_channels: int
    axes: str

    def class_counts(self) -> dict[str, int]:
        values, counts = np.unique(self.y, return_counts=True)
        return {str(int(v)): int(n) for v, n in zip(values, counts, strict=True)}


class ModelTraining:
    """Training, mixed into ``ConvpaintModel`` (uses its pipeline, planner and cache)."""

    classifier: Any
    classes_: Any
    n_features_: int | None
    n_channels_: int | None
    axes_: str | None
    training_: dict[str, Any]
    downsample: int
    normalize: str
    volumetric: bool
    progress: bool | None
    pipeline: Any
    planner: Any
    feature_cache: Any
    _training: Any
    _state: Any
    _features: Callable[..., Any]

    def train(
        self: M,
        image: Any,
        annotations: Any,
        axes: str | None = None,
        *,
        cancel: Any = None,
        callback: Callable[[int, int], None] | None = None,
    ) -> M:
        """Fit the classifier on the annotated pixels (0 = unlabelled) of one or more images.

        NumPy, dask and zarr images alike (lazy ones: only the scribbled tiles are
        read).  Features of annotated tiles come from :attr:`feature_cache` when the
        same pixels were featurised before.  ``cancel`` (a ``threading.Event`` or a
        callable) stops the call with :class:`convpaint.Cancelled`, leaving the
        model as it was; ``callback(done, total)`` reports the tiles featurised (per
        image).  Calls from several threads run one after the other; ``segment`` and
        ``save`` meanwhile see the model as it was before.
        """
        check = cancel_check(cancel)
        check_callback(callback)
        images, labels = _pairs(image, annotations)
        with self._training:
            samples = self._collect(images, labels, axes, check, callback)
            check()
            fitted = fresh_copy(full_classifier(self.classifier))
            fitted.fit(samples.x, samples.y)
            check()
            self.install_classifier(fitted, samples)
        return self

    def training_samples(
        self,
        image: Any,
        annotations: Any,
        axes: str | None = None,
        *,
        cancel: Any = None,
        callback: Callable[[int, int], None] | None = None,
    ) -> TrainingSamples:
        """The samples :meth:`train` fits on (same arguments), without fitting anything.

        With :meth:`install_classifier` this splits ``train`` in two, e.g. to fit a small
        forest first and the full one later on the same samples
        (:mod:`convpaint.progressive`): ``fit`` on ``samples.x, samples.y``.
        """
        check = cancel_check(cancel)
        check_callback(callback)
        images, labels = _pairs(image, annotations)
        with self._training:
            return self._collect(images, labels, axes, check, callback)

    def install_classifier(
        self, fitted: Any, samples: TrainingSamples, replaces: Any = None
    ) -> bool:
        """Make ``fitted`` (fitted on ``samples``) the model's classifier, as a whole.

        ``replaces``: install only while that classifier is still the model's (False
        when another training replaced it meanwhile).
        """
        with self._state:
            if replaces is not None and self.classifier is not replaces:
                return False
            self.classifier = fitted
            self.training_ = {
                "n_images": samples.n_images,
                "n_samples": int(len(samples.y)),
                "class_counts": samples.class_counts(),
            }
            self.classes_ = samples.classes
            self.n_features_ = samples.x.shape[1]
            self.n_channels_ = samples.n_channels
            self.axes_ = samples.axes
        return True

    def _collect(self, images, labels, axes, check, callback) -> TrainingSamples:
        xs, ys, shapes = [], [], set()
        for img, ann in zip(images, labels, strict=True):
            x, y, n_channels, layout_axes = self._samples(img, ann, axes, check, callback)
            shapes.add((n_channels, x.shape[1]))
            xs.append(x)
            ys.append(y)
        if len(shapes) > 1:
            raise ValueError(
                "the images give different channel or feature counts "
                f"{sorted(shapes)}: train on images with the same channels"
            )
        y = np.concatenate(ys)
        classes = check_training_labels(y)
        x = np.concatenate(xs, axis=0)
        return TrainingSamples(x, y, classes, len(images), n_channels, layout_axes)

    def _samples(self, image: Any, annotations: Any, axes: str | None, check, callback=None):
        """(x, y, channels, axes) of the annotated pixels of one image (at 1/downsample
        resolution when the model downsamples: :mod:`convpaint.scaled`)."""
        canon, layout = prepare_image(image, axes)
        ann = prepare_annotations(annotations, layout, canon.shape)
        full_scale = intensity_range(canon.dtype)
        if self.downsample > 1:
            canon, ann = scaled.downsample_training(canon, ann, self.downsample)
        planes = annotated_planes(ann)
        plan = self.planner.plan(
            canon.shape[-2:], training=True, depth=canon.shape[1], n_channels=canon.shape[2]
        )
        if not is_lazy(ann) and not is_lazy(canon):  # refuse what cannot fit in memory
            zpad, cache = self.pipeline.zpad, self.feature_cache
            check_training(plan, zpad, cache, canon.shape, ann, self.classifier)
        units = make_units(
            canon, self.normalize, self.volumetric, *planes, cache=self.feature_cache
        )
        features = self._features(plan.grid, full_scale)
        x, y = collect_samples(
            features, units, ann, plan.grid, plan.workers, self.progress, check, callback
        )
        return x, y, canon.shape[2], layout.axes


def _pairs(image: Any, annotations: Any) -> tuple[list, list]:
    images = list(image) if isinstance(image, (list, tuple)) else [image]
    labels = list(annotations) if isinstance(annotations, (list, tuple)) else [annotations]
    if len(images) != len(labels):
        raise ValueError(f"got {len(images)} images but {len(labels)} annotation arrays")
    return images, labels
