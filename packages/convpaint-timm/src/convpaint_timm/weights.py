"""Where the timm CNN weights come from: the Hugging Face cache, an explicit file, or nowhere.

timm publishes its ImageNet weights on the Hugging Face hub (``timm/<arch>.<tag>``,
file ``model.safetensors``); ``timm.create_model(pretrained=True)`` would put them in
the same cache. Checkpoints are read without executing pickled code, and only the
tensors of the truncated trunk are read (lazily for ``.safetensors``).
"""

from __future__ import annotations

import functools
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

_TRUE = {"1", "true", "yes", "on"}
HUB_FILES = ("model.safetensors", "pytorch_model.bin")


class WeightsNotFoundError(FileNotFoundError):
    """The weights are neither in the cache nor downloadable nor at the given path."""


class WeightsLoadError(RuntimeError):
    """The checkpoint exists but cannot be read or lacks the needed tensors."""


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "huggingface" / "hub"


def hf_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids downloads."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def repo_cache_folder(repo_id: str) -> Path:
    """Cache folder of a hub model repository (``models--owner--name``)."""
    return hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def cached_file(repo_id: str) -> Path | None:
    """The cached checkpoint of ``repo_id``, or None."""
    from huggingface_hub import try_to_load_from_cache

    for filename in HUB_FILES:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=hf_cache_dir())
        if isinstance(found, str):
            return Path(found)
    return None


def hub_file(repo_id: str, download: bool = True) -> Path:
    """The checkpoint of ``repo_id`` from the cache, else downloaded into it (when allowed).

    Raises :class:`WeightsNotFoundError` naming the cache folder when nothing is cached
    and downloading is off (``download=False``, ``HF_HUB_OFFLINE=1``) or fails.
    """
    found = cached_file(repo_id)
    if found is not None:
        return found
    reason = "HF_HUB_OFFLINE is set" if hf_offline() else "downloads are off"
    if download and not hf_offline():
        from huggingface_hub import hf_hub_download

        try:
            return Path(hf_hub_download(repo_id, HUB_FILES[0], cache_dir=hf_cache_dir()))
        except Exception as exc:  # offline, gated, HTTP error ...
            reason = f"download failed: {type(exc).__name__}: {exc}"
    raise WeightsNotFoundError(
        f"weights {HUB_FILES[0]!r} of {repo_id} not found in the Hugging Face cache; looked "
        f"under {repo_cache_folder(repo_id)}/snapshots/<revision>/ ({reason}). Download them "
        f"on a connected machine (`python -m convpaint_timm download`, or `hf download "
        f"{repo_id}`) and copy the cache folder, point HF_HOME to a cache that has them, or "
        "pass weights=PATH to a checkpoint file (weights='random': untrained, tests only)."
    )


def explicit_file(path: str | os.PathLike[str]) -> Path:
    """An explicit checkpoint path, checked to exist."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsNotFoundError(
            f"weights file {p.name!r} not found in {p.parent.resolve()} "
            f"(weights={os.fspath(path)!r})"
        )
    return p


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
            f"cannot read weights file {path}: {type(exc).__name__}: {exc}. The file may be "
            f"corrupt or incomplete; replace {Path(path).name!r}."
        ) from exc
    out: list[tuple[str, torch.Tensor]] = []
    missing: list[str] = []
    for key in keys:
        found = next((k for k in _candidate_keys(key) if k in state), None)
        if found is None:
            missing.append(checkpoint_key(key))
        else:
            out.append((key, state[found].detach().clone().contiguous()))
    if missing:
        shown = ", ".join(missing[:4]) + (
            f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        )
        raise WeightsLoadError(
            f"weights file {path} lacks tensors {shown} (expected a timm state dict "
            "of the architecture)"
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
    for wrapper in ("state_dict", "model"):  # common training-checkpoint wrappers
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise TypeError(f"expected a state dict, found {type(state).__name__}")
    return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
