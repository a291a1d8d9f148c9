"""A project's images and the state of their files: :class:`ImageEntry` (annotated,
segmented, stale), as :attr:`convpaint.project.Project.images` lists them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import project_files as files

__all__ = ["AnnotatedCheck", "ImageEntry", "image_entry"]


@dataclass(frozen=True)
class ImageEntry:
    """One image of a project and the state of its files."""

    name: str  # the stem: annotations/<name>.tif, segmentations/<name>.tif
    path: Path
    shape: tuple[int, ...]
    dtype: np.dtype
    axes: str | None  # from project.toml or the file; None: guessed from the shape
    annotated: bool  # annotations with at least one labelled pixel
    segmented: bool  # segmentations/<name>.tif exists and is recorded
    stale: bool  # segmented by another model, or the image or annotations changed since

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class AnnotatedCheck:
    """Whether an annotation file holds a labelled pixel; a file is read again only when
    its signature (size, modification time) changed."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[str, bool]] = {}

    def __call__(self, path: Path) -> bool:
        sig = files.signature(path)
        if not sig:
            return False
        known = self._known.get(path)
        if known is None or known[0] != sig:
            from .io import read_image

            try:
                known = (sig, bool(np.any(read_image(path))))
            except ValueError:
                known = (sig, True)  # a bad file: reported when it is read
            self._known[path] = known
        return known[1]


def image_entry(
    project: Any, name: str, path: Path, state: dict, fingerprint: str | None
) -> ImageEntry:
    """The entry of image ``name`` (file ``path``) of ``project`` (a
    :class:`~convpaint.project.Project`); ``state``: the segmentations' record,
    ``fingerprint``: the current model's (None: no model)."""
    shape, dtype, file_axes = files.image_header(path)
    axes = project.settings.get("axes") or file_axes
    record = state.get(name, {}).get("labels")
    annotations = project.annotation_path(name)
    segmented = bool(record) and project.output_path(name).is_file()
    stale = segmented and (
        record.get("model") != fingerprint
        or record.get("image") != files.signature(path)
        or record.get("annotations") != files.signature(annotations)
    )
    annotated = project._annotated(annotations)
    return ImageEntry(name, path, shape, dtype, axes, annotated, segmented, bool(stale))
