"""Locating, downloading and (partially) loading the ImageNet VGG16 checkpoint.

Nothing here downloads implicitly: a missing checkpoint raises
:class:`WeightsNotFoundError`; :func:`download_weights` (or the extractor option
``download=True``, or ``python -m convpaint_vgg download``) fetches it through
torch hub into the torch hub cache, where torchvision would put it.  Reading and
the errors are :mod:`convpaint.torch_support`'s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from convpaint import torch_support
from convpaint.torch_support import WeightsLoadError, WeightsNotFoundError

if TYPE_CHECKING:
    import torch

__all__ = [
    "WeightsLoadError",
    "WeightsNotFoundError",
    "checkpoint_dir",
    "default_weights_path",
    "download_weights",
    "load_tensors",
    "resolve_weights_path",
    "weights_filename",
    "weights_url",
]


def weights_url() -> str:
    """Download URL of torchvision's ``VGG16_Weights.IMAGENET1K_V1``."""
    from torchvision.models import VGG16_Weights

    return VGG16_Weights.IMAGENET1K_V1.url


def weights_filename() -> str:
    """File name of the checkpoint, e.g. ``vgg16-397923af.pth``."""
    return os.path.basename(weights_url())


def checkpoint_dir() -> Path:
    """``<torch.hub.get_dir()>/checkpoints``: torchvision's download folder (honours TORCH_HOME)."""
    return torch_support.torch_hub_dir() / "checkpoints"


def default_weights_path() -> Path:
    """Where the ImageNet checkpoint is looked for when ``weights`` is None."""
    return checkpoint_dir() / weights_filename()


def _cached_checkpoint() -> Path:
    path = default_weights_path()
    return torch_support.find_file(
        [path],
        f"VGG16 ImageNet weights {path.name!r}",
        f"Put the file there (from {weights_url()}), or run `python -m convpaint_vgg download` "
        "(or pass download=True) once while online, or pass weights=PATH to a local "
        ".pth/.safetensors state dict.",
    )


def resolve_weights_path(weights: str | os.PathLike[str] | None) -> Path:
    """The checkpoint file for ``weights`` (None: torch hub cache); it must exist."""
    if weights is None:
        return _cached_checkpoint()
    return torch_support.existing_file(weights, "VGG16 weights file")


def download_weights(progress: bool = True) -> Path:
    """Download the ImageNet checkpoint into the torch hub cache (hash-checked); return its path."""
    return torch_support.download_file(weights_url(), default_weights_path(), progress=progress)


def _candidate_keys(key: str) -> tuple[str, ...]:
    """A trunk key ``"5.weight"`` as stored in full-model or features-only checkpoints."""
    return (f"features.{key}", key, f"module.features.{key}")


def load_tensors(path: str | os.PathLike[str], keys: Sequence[str]) -> dict[str, torch.Tensor]:
    """The trunk tensors ``keys`` (e.g. ``"0.weight"``) from a checkpoint, safely.

    ``.safetensors`` files are read lazily; other files with
    ``torch.load(weights_only=True)`` (memory-mapped when the zip format allows).
    Results are cached per (file, size, mtime); the returned tensors are copies.
    """
    return torch_support.load_tensors(
        path,
        keys,
        _candidate_keys,
        what="VGG16 weights file",
        expected="a state dict of torchvision's vgg16 or of vgg16().features",
    )
