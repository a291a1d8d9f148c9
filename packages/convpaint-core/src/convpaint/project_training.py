"""Training a project's model (:meth:`convpaint.project.Project.train`): every annotated
image, one model object across images and calls (its feature cache serves retraining after
a new stroke), then ``model.npz`` and the training record (``.training.json``: the model's
fingerprint and file, the annotations and settings it was trained on).

Images are read whole while they take at most :data:`~convpaint.project_files.EAGER_BYTES`
together (the core caches features of in-memory inputs only), else tile by tile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import project_files as files
from .cancel import cancel_check, check_callback
from .project_files import EAGER_BYTES

__all__ = ["train_project"]


def train_project(
    project: Any,
    cancel: Any = None,
    callback: Callable[[int, int], None] | None = None,
    lazy: bool | None = None,
) -> Any:
    """Train ``project``'s model (a :class:`~convpaint.project.Project`) on its annotated
    images and save it; returns the model.  ``lazy`` and ``callback`` as in
    :meth:`~convpaint.project.Project.train`."""
    check = cancel_check(cancel)
    check_callback(callback)
    entries = [e for e in project.images if e.annotated]
    if not entries:
        raise ValueError(
            f"{project.path}: no image has annotations yet; draw scribbles first "
            "(annotations/<image>.tif, 0 = unlabelled)"
        )
    key = project._settings_key()
    model = project._trainer if project._trainer_key == key else None
    if model is None:  # one object across images and calls: its feature cache lives on
        model = files.build_model(project.settings)
        project._trainer, project._trainer_key = model, key
    files.set_class_names(model, project.class_names)
    images, labels, axes, budget = [], [], set(), EAGER_BYTES
    for e in entries:
        whole = not lazy if lazy is not None else e.nbytes <= budget
        budget -= e.nbytes if whole else 0
        array, ax = project.open_image(e.name, lazy=not whole)
        images.append(array)
        shape, _ = project.spatial(e.name)
        labels.append(files.training_annotations(project.annotation_path(e.name), shape, not whole))
        axes.add(ax)
    if len(axes) > 1:
        raise ValueError(f"the annotated images have different axes {sorted(map(str, axes))}")
    total, done = len(entries) + 1, [0]

    def per_tile(tiles: int, of: int) -> None:
        if tiles == of:
            done[0] += 1
            if callback is not None:
                callback(done[0], total)

    check()
    model.train(images, labels, axes=axes.pop(), cancel=cancel, callback=per_tile)
    check()
    model.save(project.model_path)
    record = {
        "fingerprint": model.fingerprint(),
        "model_file": files.signature(project.model_path),
        "annotations": {e.name: files.signature(project.annotation_path(e.name)) for e in entries},
        "settings": key,
    }
    files.write_json(project.path / files.TRAINING, record)
    project._model, project._model_key = model, (key, record["model_file"])
    if callback is not None:
        callback(total, total)
    return model
