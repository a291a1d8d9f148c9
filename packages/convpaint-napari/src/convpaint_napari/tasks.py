"""What the widget's jobs compute, on the public ``convpaint`` API only (no Qt)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import convpaint
from convpaint.progressive import ProgressiveFit

from .options import ModelSettings
from .outputs import OutputSettings


@dataclass
class Inputs:
    """A job's inputs, read in the GUI thread."""

    image: Any
    axes: str
    settings: ModelSettings
    model: convpaint.ConvpaintModel | None = None  # reused when built from ``settings``
    annotations: np.ndarray | None = None  # a copy; needed to train
    outputs: OutputSettings = field(default_factory=OutputSettings)
    class_names: dict[int, str] = field(default_factory=dict)
    class_colors: dict[int, str] = field(default_factory=dict)
    segment: bool = True  # False: train only
    extras: bool = True  # False (live): labels only, no probabilities/uncertainty/instances
    coarse: int = 0  # > 1: first a segmentation this much coarser (``callback.partial``)
    draft_trees: int = 0  # > 0 (live): train a draft of this many trees (convpaint.progressive)
    pending: ProgressiveFit | None = None  # a draft's full forest, fitted before segmenting


@dataclass
class Result:
    model: convpaint.ConvpaintModel
    settings: ModelSettings
    region: tuple | None
    labels: np.ndarray | None
    proba: np.ndarray | None
    summary: str = ""
    uncertainty: np.ndarray | None = None
    instances: np.ndarray | None = None
    outputs: OutputSettings = field(default_factory=OutputSettings)
    refine: ProgressiveFit | None = None  # a draft was trained: its full forest is pending


def result_axes(axes: str, region: tuple | None) -> str:
    """Spatial axes of a result over ``region`` (axes indexed by an integer drop out)."""
    spatial = axes.replace("C", "")
    if region is None:
        return spatial
    kept = [a for a, r in zip(spatial, region, strict=False) if not isinstance(r, int)]
    return "".join(kept) + spatial[len(region) :]


def _stage(callback: Any, text: str) -> None:
    stage = getattr(callback, "stage", None)
    if stage is not None:
        stage(text)


def run(
    inputs: Inputs,
    train: bool,
    region: tuple | None,
    cancel: threading.Event,
    callback: Callable[[int, int], None],
) -> Result:
    """Optionally train, then segment ``region`` of the image (None: all of it)."""
    model = inputs.model if inputs.model is not None else inputs.settings.build()
    model.class_names = inputs.class_names
    model.class_colors = inputs.class_colors
    out = inputs.outputs
    summary = ""
    draft = None
    if train:
        if inputs.annotations is None:
            raise ValueError("no annotations to train on")
        _stage(callback, "featurising the scribbled tiles")

        def featurised(done: int, total: int) -> None:
            callback(done, total)
            if done >= total:
                _stage(callback, "fitting the random forest")

        if inputs.draft_trees > 0:
            draft = ProgressiveFit(
                model, inputs.image, inputs.annotations, inputs.axes, n_trees=inputs.draft_trees
            )
            if not draft.draft(cancel=cancel, callback=featurised):
                draft = None  # no smaller forest: the full one is trained
        else:
            model.train(
                inputs.image, inputs.annotations, inputs.axes, cancel=cancel, callback=featurised
            )
        n = int(np.count_nonzero(inputs.annotations))
        classes = ", ".join(inputs.class_names.get(int(c), str(c)) for c in model.classes_)
        summary = f"Trained on {n} scribbled pixels ({classes})."
        if draft is not None:
            summary += f" A {inputs.draft_trees}-tree draft; the full forest follows at rest."
    elif inputs.pending is not None and inputs.pending.pending:
        _stage(callback, "fitting the full forest")
        inputs.pending.full(cancel=cancel)  # Segment after live: the full forest, not the draft
    model.smooth = out.smooth
    if not inputs.segment:
        return Result(model, inputs.settings, region, None, None, summary, outputs=out)
    kwargs = {"region": region, "cancel": cancel, "callback": callback, "smooth": out.smooth}
    partial = getattr(callback, "partial", None)
    if inputs.coarse > 1 and partial is not None:
        _stage(callback, "a coarse result first")
        factor = inputs.coarse * model.downsample
        coarse = model.segment(inputs.image, inputs.axes, **kwargs, downsample=factor)
        partial(Result(model, inputs.settings, region, coarse, None, summary, outputs=out))
    _stage(callback, "segmenting")
    proba = uncertainty = instances = None
    if inputs.extras and out.needs_proba:
        proba = model.predict_proba(inputs.image, inputs.axes, **kwargs)
        labels = model.classes_[np.argmax(proba, axis=0)]
        if out.uncertainty:
            uncertainty = np.asarray(convpaint.uncertainty(proba), np.float32)
        if not out.proba:
            proba = None
    else:
        labels = model.segment(inputs.image, inputs.axes, **kwargs)
    if inputs.extras and out.instances:
        _stage(callback, "finding instances")
        instances = convpaint.to_instances(
            labels,
            min_size=out.min_size,
            split_touching=out.split_touching,
            axes=result_axes(inputs.axes, region),
            class_names=model.class_names,
        )
        count = int(np.unique(instances[instances > 0]).size)
        summary = f"{summary} {count} instances.".strip()
    return Result(
        model, inputs.settings, region, labels, proba, summary, uncertainty, instances, out, draft
    )


def refine(
    fit: ProgressiveFit,
    inputs: Inputs,
    region: tuple | None,
    cancel: threading.Event,
    callback: Callable[[int, int], None],
) -> Result:
    """Live mode at rest: the full forest of ``fit`` replaces its draft, then ``region`` is
    segmented with it; :class:`convpaint.Cancelled` when a newer training superseded it."""
    t0 = time.perf_counter()
    if not fit.full(cancel=cancel):
        raise convpaint.Cancelled("a newer stroke superseded this full forest")
    model = fit.model
    out = inputs.outputs
    kwargs = {"region": region, "cancel": cancel, "callback": callback, "smooth": out.smooth}
    labels = model.segment(inputs.image, inputs.axes, **kwargs)
    n_trees = len(getattr(model.classifier, "estimators_", ()))
    summary = f"Full forest ({n_trees} trees) in {time.perf_counter() - t0:.2f} s."
    return Result(model, inputs.settings, region, labels, None, summary, outputs=out)


def count_classes(annotations: np.ndarray) -> int:
    """Number of distinct non-zero values (a bincount for 8- and 16-bit labels)."""
    data = np.asarray(annotations)
    if data.dtype in (np.uint8, np.uint16):
        return int(np.count_nonzero(np.bincount(data.ravel())[1:]))
    return int(np.count_nonzero(np.unique(data)))
