"""What the widget's jobs compute, on the public ``convpaint`` API only (no Qt)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import convpaint

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
    if train:
        if inputs.annotations is None:
            raise ValueError("no annotations to train on")
        _stage(callback, "featurising the scribbled tiles")

        def featurised(done: int, total: int) -> None:
            callback(done, total)
            if done >= total:
                _stage(callback, "fitting the random forest")

        model.train(
            inputs.image, inputs.annotations, inputs.axes, cancel=cancel, callback=featurised
        )
        n = int(np.count_nonzero(inputs.annotations))
        classes = ", ".join(inputs.class_names.get(int(c), str(c)) for c in model.classes_)
        summary = f"Trained on {n} scribbled pixels ({classes})."
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
        model, inputs.settings, region, labels, proba, summary, uncertainty, instances, out
    )
