"""Segmenting a project's images (:meth:`convpaint.project.Project.segment`): image by
image, each output written atomically and then recorded in ``segmentations/.state.json``;
a rerun keeps what the current model made from the current image and redoes the rest.

The images are segmented by a copy of the project's model that shares its trees but has
no feature cache: whole-image prediction features would otherwise evict the training
features that the next ``train()`` (after a new stroke) reads from the cache.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import project_files as files
from .cache import FeatureCache
from .cancel import cancel_check, check_callback
from .progress import progress_bar


def prediction_model(model: Any) -> Any:
    """A shallow copy of ``model`` (the same classifier, extractor and settings) with an
    empty, disabled feature cache: segmenting with it leaves ``model``'s cache as it is."""
    segmenter = copy.copy(model)
    segmenter.feature_cache = FeatureCache(0)
    return segmenter


def segment_project(
    project: Any,
    names: list[str],
    kinds: list[str],
    cancel: Any = None,
    callback: Callable[[int, int], None] | None = None,
    lazy: bool | None = None,
    progress: bool | None = None,
) -> list[str]:
    """Segment the images ``names`` of ``project`` (a :class:`~convpaint.project.Project`)
    into the outputs ``kinds`` ("labels", "instances", "proba"), resuming; returns the
    names of the images (re)done."""
    check = cancel_check(cancel)
    check_callback(callback)
    model = project.model()
    if getattr(model, "classes_", None) is None:
        raise ValueError(f"{project.path}: no trained model yet: train the project first")
    fingerprint = model.fingerprint()
    for name in names:
        project._source(name)  # unknown names: refused before any work
    for kind in files.OUTPUT_DIRS:
        files.remove_temporaries(project.path / files.OUTPUT_DIRS[kind])
    segmenter = prediction_model(model)
    instance_settings = {"instances": project.settings.get("instances", {})}
    state_path = project.path / files.OUTPUT_DIRS["labels"] / files.STATE
    redone = []
    with progress_bar(len(names), "segmenting images", progress) as bar:
        bar.unit = "image"
        for i, name in enumerate(names):
            check()
            record = dict(files.read_json(state_path).get(name, {}))
            source = {
                "model": fingerprint,
                "image": files.signature(project._source(name)),
                "annotations": files.signature(project.annotation_path(name)),
            }
            todo = [k for k in kinds if not is_current(project, name, k, record.get(k), source)]
            if todo:
                segment_image(project, name, segmenter, todo, cancel, lazy)
                for k in todo:
                    extra = instance_settings if k == "instances" else {}
                    out = files.signature(project.output_path(name, k))
                    record[k] = {**source, **extra, "file": out}
                state = files.read_json(state_path)
                state[name] = record
                files.write_json(state_path, state)
                redone.append(name)
            bar.update(1)
            if callback is not None:
                callback(i + 1, len(names))
    return redone


def is_current(project: Any, name: str, kind: str, record: dict | None, source: dict) -> bool:
    """Whether the recorded output ``kind`` of image ``name`` was made by the current model
    from the current image (instances: with the current settings) and is the file recorded."""
    if not record:
        return False
    if kind == "instances" and record.get("instances") != project.settings.get("instances", {}):
        return False
    same = all(record.get(k) == source[k] for k in ("model", "image"))
    return same and record.get("file") == files.signature(project.output_path(name, kind))


def segment_image(
    project: Any, name: str, model: Any, todo: list[str], cancel: Any, lazy: bool | None
) -> None:
    """Write the outputs ``todo`` of image ``name``: read whole up to
    :data:`~convpaint.project_files.EAGER_BYTES` (or as ``lazy`` says), else lazily."""
    shape, dtype, _ = files.image_header(project._source(name))
    nbytes = math.prod(shape) * dtype.itemsize
    whole = not lazy if lazy is not None else nbytes <= files.EAGER_BYTES
    array, axes = project.open_image(name, lazy=not whole)
    write_outputs(
        model,
        array,
        axes,
        todo,
        {k: project.output_path(name, k) for k in files.OUTPUT_DIRS},
        project.spatial(name),
        project.settings.get("instances", {}),
        project.class_names,
        cancel,
    )


def write_outputs(
    model: Any,
    image: Any,
    axes: str | None,
    todo: list[str],
    paths: Mapping[str, Path],
    spatial: tuple[tuple[int, ...], str],
    instance_settings: dict[str, Any],
    class_names: Mapping[int, str],
    cancel: Any = None,
) -> None:
    """Segment ``image`` into the outputs ``todo`` ("labels", "instances", "proba") at
    ``paths`` (kind -> path), each written atomically; ``spatial``: (shape, axes) of the
    labels.  Instances come from the labels (read back when those are current)."""
    labels = None
    if "labels" in todo:
        labels = _computed(model.segment(image, axes=axes, cancel=cancel))
        files.write_tiff(paths["labels"], labels)
    if "instances" in todo:
        from .instances import to_instances

        if labels is None:
            labels = files.read_annotation_file(paths["labels"], spatial[0])
        opts = dict(instance_settings)
        if "classes" in opts:
            opts["classes"] = [int(c) for c in opts["classes"]]
        names = dict(class_names) or None
        ids = to_instances(labels, axes=spatial[1], class_names=names, **opts)
        files.write_tiff(paths["instances"], np.asarray(ids))
    if "proba" in todo:
        proba = _computed(model.predict_proba(image, axes=axes, cancel=cancel))
        files.write_tiff(paths["proba"], proba.astype(np.float32), compress=False)


def _computed(result: Any) -> np.ndarray:
    return np.asarray(result.compute() if hasattr(result, "compute") else result)
