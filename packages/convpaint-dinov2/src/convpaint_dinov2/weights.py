"""Where ViT weights come from: the Hugging Face cache, an explicit file, or nowhere (random).

Checkpoints are read without executing pickled code: ``.safetensors`` files with
safetensors, anything else with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_TRUE = {"1", "true", "yes", "on"}


class WeightsNotFoundError(FileNotFoundError):
    """The network's weights are neither cached nor downloadable nor at the given path."""


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


def find_hub_file(repo_id: str, filenames: tuple[str, ...]) -> Path:
    """Path of the first of ``filenames`` found in the cache of ``repo_id``, else download it.

    Raises :class:`WeightsNotFoundError` naming the files and the cache folder when
    nothing is cached and downloading is off (``HF_HUB_OFFLINE=1``) or fails.
    """
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    cache = hf_cache_dir()
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache)
        if isinstance(found, str):
            return Path(found)
    reason = "HF_HUB_OFFLINE is set"
    if not hf_offline():
        for filename in filenames:
            try:
                return Path(hf_hub_download(repo_id, filename, cache_dir=cache))
            except LocalEntryNotFoundError as exc:  # no connection: the others fail as well
                reason = f"download failed: {exc}"
                break
            except EntryNotFoundError:  # the repository has no such file; try the next name
                continue
            except Exception as exc:  # gated repository, HTTP error ...
                reason = f"download failed: {type(exc).__name__}: {exc}"
                break
    names = " or ".join(repr(f) for f in filenames)
    raise WeightsNotFoundError(
        f"weights {names} of {repo_id} not found in the Hugging Face cache; expected under "
        f"{repo_cache_folder(repo_id)}/snapshots/<revision>/ ({reason}). Download them on a "
        f"connected machine (`hf download {repo_id}`) and copy the cache folder, point HF_HOME "
        "to a cache that has them, or pass weights=PATH to a checkpoint file "
        "(weights='random' gives an untrained network, for tests only)."
    )


def explicit_file(path: str | os.PathLike[str]) -> Path:
    """An explicit checkpoint path, checked to exist."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsNotFoundError(f"weights file {str(p)!r} does not exist")
    return p


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Tensors of a checkpoint, read without executing pickled code."""
    import torch

    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):  # common training-checkpoint wrappers
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict (got {type(state).__name__})")
    return state
