"""Where cellpose-SAM weights come from: cellpose's model folder, a file, or random.

Checkpoints are read with ``torch.load(weights_only=True)``, which refuses pickled code
(cellpose 4's own loader does the same, but loads non-strictly); the lookups, reading
and errors are :mod:`convpaint.torch_support`'s.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from convpaint import torch_support
from convpaint.torch_support import WeightsNotFoundError

__all__ = ["DEFAULT_MODEL", "WeightsNotFoundError", "load_state_dict", "model_dir", "resolve"]

DEFAULT_MODEL = "cpsam"


def model_dir() -> Path:
    """cellpose's model folder: ``CELLPOSE_LOCAL_MODELS_PATH`` or ``~/.cellpose/models``."""
    env = os.environ.get("CELLPOSE_LOCAL_MODELS_PATH")
    return Path(env).expanduser() if env else Path.home() / ".cellpose" / "models"


def resolve(weights: str | os.PathLike[str] | None) -> Path:
    """The checkpoint file for ``weights``: None (``cpsam``), a model name, or a path."""
    name = DEFAULT_MODEL if weights is None else os.fspath(weights)
    path = Path(name).expanduser()
    if path.is_file():
        return path
    if os.sep not in name and "/" not in name:  # a bare name: look in the model folder
        return torch_support.find_file(
            [model_dir() / name],
            f"cellpose model file {name!r} in the cellpose model folder {model_dir()}",
            "Download it on a connected machine (e.g. run cellpose once, or fetch "
            f"https://huggingface.co/mouseland/cellpose-sam/resolve/main/{name}), set "
            "CELLPOSE_LOCAL_MODELS_PATH to a folder that has it, or pass weights=PATH "
            "(weights='random' gives an untrained network, for tests only).",
        )
    return torch_support.existing_file(path, "cellpose weights file")


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Tensors of a cellpose 4 checkpoint, without ``module.`` prefixes."""
    state = torch_support.load_state_dict(path, what="cellpose weights file")
    if "W2" not in state and "module.W2" not in state:
        raise ValueError(
            f"{path} is not a cellpose 4 (cellpose-SAM) model; cellpose 3 models differ"
        )
    return {k.removeprefix("module."): v for k, v in state.items()}
