"""Locating, downloading and (partially) loading the ImageNet VGG16 checkpoint.

Nothing here downloads implicitly: a missing checkpoint raises
:class:`WeightsNotFoundError`; :func:`download_weights` (or the extractor option
``download=True``, or ``python -m convpaint_vgg download``) fetches it through
torch hub into the torch hub cache, where torchvision would put it.
"""

from __future__ import annotations

import functools
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class WeightsNotFoundError(FileNotFoundError):
    """The VGG16 checkpoint is not on disk (and is never downloaded implicitly)."""


class WeightsLoadError(RuntimeError):
    """The checkpoint exists but cannot be read or lacks the needed tensors."""


def weights_url() -> str:
    """Download URL of torchvision's ``VGG16_Weights.IMAGENET1K_V1``."""
    from torchvision.models import VGG16_Weights

    return VGG16_Weights.IMAGENET1K_V1.url


def weights_filename() -> str:
    """File name of the checkpoint, e.g. ``vgg16-397923af.pth``."""
    return os.path.basename(weights_url())


def checkpoint_dir() -> Path:
    """``<torch.hub.get_dir()>/checkpoints``: torchvision's download folder (honours TORCH_HOME)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def default_weights_path() -> Path:
    """Where the ImageNet checkpoint is looked for when ``weights`` is None."""
    return checkpoint_dir() / weights_filename()


def resolve_weights_path(weights: str | os.PathLike[str] | None) -> Path:
    """The checkpoint file for ``weights`` (None: torch hub cache); it must exist."""
    if weights is None:
        path = default_weights_path()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"VGG16 ImageNet weights {path.name!r} not found in {path.parent}. "
                f"Put the file there (from {weights_url()}), or run "
                "`python -m convpaint_vgg download` (or pass download=True) once while "
                "online, or pass weights=PATH to a local .pth/.safetensors state dict."
            )
        return path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(
            f"VGG16 weights file {path.name!r} not found in {path.parent.resolve()} "
            f"(weights={os.fspath(weights)!r})"
        )
    return path


def download_weights(progress: bool = True) -> Path:
    """Download the ImageNet checkpoint into the torch hub cache (hash-checked); return its path."""
    import torch.hub

    path = default_weights_path()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        match = torch.hub.HASH_REGEX.search(path.name)
        torch.hub.download_url_to_file(
            weights_url(), os.fspath(path), hash_prefix=match.group(1) if match else None,
            progress=progress,
        )  # fmt: skip
    return path


def _candidate_keys(key: str) -> tuple[str, ...]:
    """A trunk key ``"5.weight"`` as stored in full-model or features-only checkpoints."""
    return (f"features.{key}", key, f"module.features.{key}")


def load_tensors(path: str | os.PathLike[str], keys: Sequence[str]) -> dict[str, torch.Tensor]:
    """The trunk tensors ``keys`` (e.g. ``"0.weight"``) from a checkpoint, safely.

    ``.safetensors`` files are read lazily; other files with
    ``torch.load(weights_only=True)`` (memory-mapped when the zip format allows).
    Results are cached per (file, size, mtime); the returned tensors are copies.
    """
    p = Path(path)
    stat = p.stat()
    cached = _load_cached(os.fspath(p.resolve()), stat.st_size, stat.st_mtime_ns, tuple(keys))
    return {k: v.clone() for k, v in cached}


@functools.lru_cache(maxsize=4)
def _load_cached(
    path: str, size: int, mtime_ns: int, keys: tuple[str, ...]
) -> tuple[tuple[str, torch.Tensor], ...]:
    del size, mtime_ns  # cache key only
    try:
        state = _read(path, keys)
    except Exception as exc:
        raise WeightsLoadError(
            f"cannot read VGG16 weights file {path}: {type(exc).__name__}: {exc}. "
            f"The file may be corrupt or incomplete; replace {Path(path).name!r} "
            "(e.g. delete it and download it again)."
        ) from exc
    out: list[tuple[str, torch.Tensor]] = []
    missing: list[str] = []
    for key in keys:
        found = next((k for k in _candidate_keys(key) if k in state), None)
        if found is None:
            missing.append(key)
        else:
            out.append((key, state[found].detach().clone().contiguous()))
    if missing:
        raise WeightsLoadError(
            f"VGG16 weights file {path} lacks tensors {', '.join(missing)} "
            "(expected a state dict of torchvision's vgg16 or of vgg16().features)"
        )
    return tuple(out)


def _read(path: str, keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint that may hold ``keys`` (safetensors: only those)."""
    import torch

    if path.endswith(".safetensors"):
        from safetensors import safe_open

        wanted = {c for key in keys for c in _candidate_keys(key)}
        with safe_open(path, framework="pt", device="cpu") as handle:
            return {k: handle.get_tensor(k) for k in handle.keys() if k in wanted}  # noqa: SIM118
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise TypeError(f"expected a state dict, found {type(state).__name__}")
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
