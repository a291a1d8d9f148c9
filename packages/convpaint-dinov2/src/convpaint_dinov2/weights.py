"""Where ViT weights come from: the Hugging Face cache, an explicit file, or nowhere (random).

Checkpoints are read without executing pickled code: ``.safetensors`` files with
safetensors, anything else with ``torch.load(weights_only=True)``; the lookups, reading
and errors are :mod:`convpaint.torch_support`'s.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from convpaint import torch_support
from convpaint.torch_support import WeightsNotFoundError, existing_file, hf_cache_dir, hf_offline
from convpaint.torch_support import hf_repo_folder as repo_cache_folder

__all__ = [
    "WeightsNotFoundError",
    "explicit_file",
    "find_hub_file",
    "hf_cache_dir",
    "hf_offline",
    "load_state_dict",
    "repo_cache_folder",
]


def find_hub_file(repo_id: str, filenames: tuple[str, ...]) -> Path:
    """Path of the first of ``filenames`` found in the cache of ``repo_id``, else download it.

    Raises :class:`WeightsNotFoundError` naming the files and the cache folder when
    nothing is cached and downloading is off (``HF_HUB_OFFLINE=1``) or fails.
    """
    return torch_support.hf_weights_file(repo_id, filenames, download=True)


def explicit_file(path: str | os.PathLike[str]) -> Path:
    """An explicit checkpoint path, checked to exist."""
    return existing_file(path)


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Tensors of a checkpoint, read without executing pickled code."""
    return torch_support.load_state_dict(path)
