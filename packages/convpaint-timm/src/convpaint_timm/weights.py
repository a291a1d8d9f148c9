"""Where the timm CNN weights come from: the Hugging Face cache, an explicit file, or nowhere.

timm publishes its ImageNet weights on the Hugging Face hub (``timm/<arch>.<tag>``,
file ``model.safetensors``); ``timm.create_model(pretrained=True)`` would put them in
the same cache. Checkpoints are read without executing pickled code, and only the
tensors of the truncated trunk are read (lazily for ``.safetensors``); the lookups,
reading and errors are :mod:`convpaint.torch_support`'s.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from convpaint import torch_support
from convpaint.torch_support import (
    WeightsLoadError,
    WeightsNotFoundError,
    existing_file,
    hf_cache_dir,
    hf_offline,
)
from convpaint.torch_support import hf_repo_folder as repo_cache_folder

if TYPE_CHECKING:
    import torch

__all__ = [
    "HUB_FILES",
    "WeightsLoadError",
    "WeightsNotFoundError",
    "cached_file",
    "checkpoint_key",
    "explicit_file",
    "hf_cache_dir",
    "hf_offline",
    "hub_file",
    "load_tensors",
    "repo_cache_folder",
]

HUB_FILES = torch_support.HF_WEIGHT_FILES


def cached_file(repo_id: str) -> Path | None:
    """The cached checkpoint of ``repo_id``, or None."""
    return torch_support.hf_cached_file(repo_id, HUB_FILES)


def hub_file(repo_id: str, download: bool = True) -> Path:
    """The checkpoint of ``repo_id`` from the cache, else downloaded into it (when allowed).

    Raises :class:`WeightsNotFoundError` naming the cache folder when nothing is cached
    and downloading is off (``download=False``, ``HF_HUB_OFFLINE=1``) or fails.
    """
    return torch_support.hf_weights_file(
        repo_id,
        HUB_FILES,
        download=download,
        download_hint="`python -m convpaint_timm download`, or ",
    )


def explicit_file(path: str | os.PathLike[str]) -> Path:
    """An explicit checkpoint path, checked to exist."""
    return existing_file(path)


def checkpoint_key(key: str) -> str:
    """A trunk key as timm's full model names it (FeatureListNet flattens ``stages.1``)."""
    return re.sub(r"^(stem|stages)_(\d+)\.", r"\1.\2.", key)


def _candidate_keys(key: str) -> tuple[str, ...]:
    full = checkpoint_key(key)
    return tuple(dict.fromkeys((full, key, f"module.{full}", f"model.{full}")))


def load_tensors(path: str | os.PathLike[str], keys: Sequence[str]) -> dict[str, torch.Tensor]:
    """The trunk tensors ``keys`` from a checkpoint (timm full-model or trunk keys).

    Results are cached per (file, size, mtime); the returned tensors are copies.
    """
    return torch_support.load_tensors(
        path, keys, _candidate_keys, expected="a timm state dict of the architecture"
    )
