"""What the widget's jobs compute, on the public ``convpaint`` API only (no Qt)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import convpaint

from .options import ModelSettings


@dataclass
class Inputs:
    """A job's inputs, read in the GUI thread."""

    image: Any
    axes: str
    settings: ModelSettings
    model: convpaint.ConvpaintModel | None = None  # reused when built from ``settings``
    annotations: np.ndarray | None = None  # a copy; needed to train
    proba: bool = False


@dataclass
class Result:
    model: convpaint.ConvpaintModel
    settings: ModelSettings
    region: tuple | None
    labels: np.ndarray | None
    proba: np.ndarray | None
    summary: str = ""


def run(
    inputs: Inputs,
    train: bool,
    region: tuple | None,
    cancel: threading.Event,
    callback: Callable[[int, int], None],
) -> Result:
    """Optionally train, then segment ``region`` of the image (None: all of it)."""
    model = inputs.model if inputs.model is not None else inputs.settings.build()
    summary = ""
    if train:
        if inputs.annotations is None:
            raise ValueError("no annotations to train on")
        model.train(inputs.image, inputs.annotations, inputs.axes, cancel=cancel)
        n = int(np.count_nonzero(inputs.annotations))
        classes = ", ".join(str(c) for c in model.classes_)
        summary = f"Trained on {n} scribbled pixels (classes {classes})."
    kwargs = {"region": region, "cancel": cancel, "callback": callback}
    proba = None
    if inputs.proba:
        proba = model.predict_proba(inputs.image, inputs.axes, **kwargs)
        labels = model.classes_[np.argmax(proba, axis=0)]
    else:
        labels = model.segment(inputs.image, inputs.axes, **kwargs)
    return Result(model, inputs.settings, region, labels, proba, summary)
