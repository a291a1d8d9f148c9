"""Projects: a folder of images trained and segmented together, readable by a person.

Layout (docs/projects.md): ``project.toml`` (settings), ``images/``,
``annotations/<stem>.tif``, ``model.npz``, ``segmentations/<stem>.tif`` (and
``instances/``, ``probabilities/``); :mod:`convpaint.project_files` reads and writes them,
:mod:`convpaint.project_images` tells each image's state.

Training (:mod:`convpaint.project_training`) opens annotated images lazily (TIFF, zarr,
``.npy``: only the scribbled tiles are read) unless they are small enough to hold, with
one model object across images.
Segmenting (:mod:`convpaint.project_segment`) resumes: an output made by the current
model from the current image is kept, anything else is redone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import project_files as files
from .paths import image_stem
from .project_files import EAGER_BYTES
from .project_images import AnnotatedCheck, ImageEntry, image_entry

__all__ = ["EAGER_BYTES", "ImageEntry", "Project"]


class Project:
    """A project folder (``create=True``: made with default settings when it is not one).

    ``images``: a glob pattern or paths of images outside ``DIR/images`` to list in
    ``project.toml`` (on creation; added to an existing project).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        create: bool = False,
        images: str | Sequence[str | os.PathLike] | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"{self.path} is a file, not a project folder")
        if not self.settings_path.is_file():
            if not create:
                raise FileNotFoundError(
                    f"{self.path} is not a Convpaint project (no project.toml): "
                    f"create one with `convpaint project init {self.path}`"
                )
            files.write_new(self.path, {"extractor": "ilastik"}, images)
            images = None
        self.settings = files.check_settings(
            files.read_toml(self.settings_path), self.settings_path
        )
        self._model: Any = None  # what model() returns, while _model_key holds
        self._model_key: tuple | None = None
        self._trainer: Any = None  # the model train() fits, while the settings hold
        self._trainer_key: str | None = None
        self._annotated = AnnotatedCheck()  # annotation files with a labelled pixel
        if images is not None:
            self.add_images(images)

    @classmethod
    def init(
        cls,
        path: str | os.PathLike,
        images: str | Sequence[str | os.PathLike] | None = None,
        *,
        extractor: str = "ilastik",
        options: Mapping[str, Any] | None = None,
        axes: str | None = None,
        class_names: Mapping[Any, str] | None = None,
        model: Mapping[str, Any] | None = None,
        upsampler: str | None = None,
        upsampler_options: Mapping[str, Any] | None = None,
    ) -> Project:
        """Create a project folder (refused when it is one already); the settings are
        checked by building the model first, so nothing is written for bad ones.
        ``upsampler`` (e.g. ``"guided"``) and its options go to ``[model]``."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ValueError(f"{path} is a file, not a project folder")
        if (path / files.SETTINGS).exists():
            raise FileExistsError(f"{path} is a project already ({files.SETTINGS} exists)")
        settings = {
            "format": files.FORMAT,
            "extractor": extractor,
            "axes": axes,
            "options": dict(options or {}),
            "model": {
                **dict(model or {}),
                **({"upsampler": upsampler} if upsampler is not None else {}),
                **({"upsampler_options": dict(upsampler_options)} if upsampler_options else {}),
            },
            "classes": {str(k): v for k, v in (class_names or {}).items()},
        }
        settings = files.check_settings(settings, path / files.SETTINGS)
        files.build_model(settings)  # an unknown extractor or a bad option: refused here
        files.write_new(path, settings, images)
        return cls(path)

    # -- paths and settings --------------------------------------------------------------
    @property
    def settings_path(self) -> Path:
        return self.path / files.SETTINGS

    @property
    def model_path(self) -> Path:
        return self.path / "model.npz"

    def annotation_path(self, name: str) -> Path:
        return self.path / "annotations" / f"{name}.tif"

    def output_path(self, name: str, kind: str = "labels") -> Path:
        """``segmentations/<name>.tif`` (``kind="labels"``), ``instances/`` or ``probabilities/``."""
        return self.path / files.OUTPUT_DIRS[kind] / f"{name}.tif"

    @property
    def class_names(self) -> dict[int, str]:
        return {int(k): v for k, v in self.settings.get("classes", {}).items()}

    def save_settings(self, settings: Mapping[str, Any]) -> None:
        """Replace project.toml (checked first, written atomically)."""
        checked = files.check_settings(dict(settings), self.settings_path)
        files.write_toml(self.settings_path, checked, files.HEADER)
        self.settings = checked

    def add_images(self, images: str | Sequence[str | os.PathLike]) -> list[Path]:
        """List more images in project.toml (a glob pattern or paths); returns the new ones."""
        new = [p for p in files.resolve_images(images, self.path) if p not in self._listed()]
        if new:
            settings = dict(self.settings)
            paths = list(settings.get("images", {}).get("paths", []))
            paths += [files.stored_path(p, self.path) for p in new]
            settings["images"] = {"paths": paths}
            self.save_settings(settings)
        self.images  # noqa: B018 -- refuse a name clash now
        return new

    def _listed(self) -> list[Path]:
        paths = self.settings.get("images", {}).get("paths", [])
        return [(self.path / p).resolve() for p in paths]

    # -- images --------------------------------------------------------------------------
    def _sources(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for p in files.find_images(self.path / "images") + self._listed():
            name = image_stem(p)
            if name in found and found[name].resolve() != p.resolve():
                raise ValueError(
                    f"two images are named {name!r} ({found[name]} and {p}): their annotations "
                    "and outputs would be the same files; rename one"
                )
            found.setdefault(name, p)
        return found

    @property
    def names(self) -> list[str]:
        return sorted(self._sources())

    @property
    def images(self) -> list[ImageEntry]:
        """Every image with its annotation and segmentation state."""
        state = files.read_json(self._state_path)
        fingerprint = self._fingerprint() if state else None
        return [
            image_entry(self, n, p, state, fingerprint) for n, p in sorted(self._sources().items())
        ]

    def image(self, name: str) -> ImageEntry:
        state = files.read_json(self._state_path)
        fingerprint = self._fingerprint() if state else None
        return image_entry(self, name, self._source(name), state, fingerprint)

    def _source(self, name: str) -> Path:
        sources = self._sources()
        if name not in sources:
            known = ", ".join(sorted(sources)) or "none"
            raise ValueError(f"no image named {name!r} in {self.path} (images: {known})")
        return sources[name]

    def spatial(self, name: str) -> tuple[tuple[int, ...], str]:
        """(spatial shape, spatial axes) of an image: the shape of its annotations."""
        path = self._source(name)
        shape, _, file_axes = files.image_header(path)
        try:
            return files.spatial_shape(shape, self.settings.get("axes") or file_axes)
        except ValueError as exc:
            raise ValueError(f"image {name!r} ({path}): {exc}; set axes in project.toml") from None

    def open_image(self, name: str, lazy: bool = True) -> tuple[Any, str | None]:
        """(array, axes) of an image; lazily read where the format allows."""
        array, file_axes = files.open_image(self._source(name), lazy)
        return array, self.settings.get("axes") or file_axes

    # -- annotations ---------------------------------------------------------------------
    def read_annotations(self, name: str) -> np.ndarray:
        """The annotations of image ``name`` (uint16 zeros of its spatial shape if none)."""
        shape, _ = self.spatial(name)
        path = self.annotation_path(name)
        if not path.exists():
            return np.zeros(shape, np.uint16)
        return files.read_annotation_file(path, shape)

    def save_annotations(self, name: str, annotations: Any) -> Path:
        """Write the annotations of image ``name`` atomically (a temporary file renamed
        over the old one: a crash leaves the old file whole); safe after every stroke."""
        shape, _ = self.spatial(name)
        array = files.check_annotations(annotations, shape, f"annotations of {name!r}")
        path = self.annotation_path(name)
        files.write_tiff(path, array)
        return path

    # -- the model -----------------------------------------------------------------------
    def _settings_key(self) -> str:
        keep = {k: self.settings.get(k) for k in ("extractor", "options", "model", "axes")}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]

    def model(self) -> Any:
        """The trained model (``model.npz``), else an untrained one from project.toml.
        The same object is returned while neither changes (its feature cache lives on)."""
        key = (self._settings_key(), files.signature(self.model_path))
        if self._model is not None and self._model_key == key:
            return self._model
        if self.model_path.is_file():
            from .loading import load_model

            model = load_model(self.model_path)
            model.feature_cache.max_bytes = self._cache_bytes()
            files.set_class_names(model, self.class_names)
        else:
            model = files.build_model(self.settings)
        self._model, self._model_key = model, key
        return model

    def _cache_bytes(self) -> int:
        return int(self.settings.get("model", {}).get("cache_bytes", files.CACHE_BYTES))

    def _fingerprint(self) -> str | None:
        """The current model's fingerprint (recorded at training; computed when the file
        was replaced since)."""
        if not self.model_path.is_file():
            return None
        record = files.read_json(self.path / files.TRAINING)
        if record.get("model_file") == files.signature(self.model_path):
            return record.get("fingerprint")
        return self.model().fingerprint()

    @property
    def needs_training(self) -> bool:
        """No model yet, or annotations or settings changed since it was trained."""
        record = files.read_json(self.path / files.TRAINING)
        if not self.model_path.is_file() or not record:
            return True
        return (
            record.get("annotations") != self._annotation_state()
            or record.get("settings") != self._settings_key()
        )

    def _annotation_state(self) -> dict[str, str]:
        return {
            e.name: files.signature(self.annotation_path(e.name))
            for e in self.images
            if e.annotated
        }

    def train(
        self,
        cancel: Any = None,
        callback: Callable[[int, int], None] | None = None,
        *,
        lazy: bool | None = None,
    ) -> Any:
        """Train on every annotated image and save ``model.npz``; returns the model.

        ``lazy``: read images tile by tile (True), whole (False), or (None) whole
        while they take at most :data:`EAGER_BYTES` together, so the feature cache
        serves retraining (the core caches only in-memory inputs).  ``callback(done,
        total)`` counts images featurised, then the fit (total = images + 1).
        """
        from .project_training import train_project

        return train_project(self, cancel, callback, lazy)

    # -- segmentation --------------------------------------------------------------------
    @property
    def _state_path(self) -> Path:
        return self.path / files.OUTPUT_DIRS["labels"] / files.STATE

    def segment(
        self,
        names: Iterable[str] | None = None,
        *,
        instances: bool = False,
        proba: bool = False,
        cancel: Any = None,
        callback: Callable[[int, int], None] | None = None,
        lazy: bool | None = None,
        progress: bool | None = None,
    ) -> list[str]:
        """Segment images (default: all) into ``segmentations/`` (and ``instances/``,
        ``probabilities/``); resumes: an output recorded as made by the current model
        from the current image is kept.  Returns the names of the images (re)done.
        ``callback(done, total)`` counts images.  The model's feature cache is left as
        training filled it (:mod:`convpaint.project_segment`)."""
        from .project_segment import segment_project

        chosen = list(self.names) if names is None else list(dict.fromkeys(names))
        kinds = ["labels", *(["instances"] if instances else []), *(["proba"] if proba else [])]
        return segment_project(self, chosen, kinds, cancel, callback, lazy, progress)

    # -- summary -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Counts of images, annotated, segmented (current) and stale; the model's state."""
        entries = self.images
        if not self.model_path.is_file():
            model = "not trained"
        elif self.needs_training:
            model = "trained, out of date (annotations or settings changed)"
        else:
            model = "trained"
        return {
            "path": str(self.path),
            "extractor": self.settings["extractor"],
            "images": len(entries),
            "annotated": sum(e.annotated for e in entries),
            "segmented": sum(e.segmented and not e.stale for e in entries),
            "stale": sum(e.stale for e in entries),
            "model": model,
        }

    def __repr__(self) -> str:
        s = self.status()
        return (
            f"Project({str(self.path)!r}, {s['images']} images, {s['annotated']} annotated, "
            f"{s['segmented']} segmented, model {s['model']})"
        )
