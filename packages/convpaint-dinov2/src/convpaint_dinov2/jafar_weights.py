"""Where JAFAR checkpoints come from, and how they are read without running pickled code.

The authors publish one checkpoint per backbone as a GitHub release asset
(https://github.com/PaulCouairon/JAFAR/releases/tag/Weights).  With ``weights=None`` the
file is looked for, under its release name, in

1. ``$CONVPAINT_JAFAR_DIR`` (when set),
2. the torch hub checkpoint folder, ``$TORCH_HOME/hub/checkpoints`` (default
   ``~/.cache/torch/hub/checkpoints``, where ``torch.hub.load_state_dict_from_url`` puts it),

and downloaded into the second when neither has it and ``HF_HUB_OFFLINE`` is not set.

The release files are training checkpoints: besides the network (key ``"jafar"``) they hold
the optimizer state and the training configuration (OmegaConf objects).  They are read with
``torch.load(weights_only=True)``; the globals that torch's allow-list refuses (the
configuration's classes) are replaced by an inert placeholder that runs nothing, so the
tensors load without the authors' code or OmegaConf and without executing the pickle.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .weights import WeightsNotFoundError, hf_offline

RELEASE_URL = "https://github.com/PaulCouairon/JAFAR/releases/download/Weights/"
ENV_DIR = "CONVPAINT_JAFAR_DIR"


class CheckpointError(ValueError):
    """A JAFAR checkpoint that does not hold a JAFAR network of the expected shape."""


def torch_hub_checkpoints() -> Path:
    """The torch hub checkpoint folder, from the environment at call time (no torch import)."""
    if os.environ.get("TORCH_HOME"):
        home = Path(os.environ["TORCH_HOME"]).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        home = Path(xdg).expanduser() / "torch"
    return home / "hub" / "checkpoints"


def search_dirs() -> list[Path]:
    """Folders searched for a checkpoint, in order."""
    dirs = [Path(os.environ[ENV_DIR]).expanduser()] if os.environ.get(ENV_DIR) else []
    return [*dirs, torch_hub_checkpoints()]


def find_checkpoint(filename: str) -> Path:
    """Path of the release file ``filename``: found in :func:`search_dirs`, else downloaded.

    Raises :class:`~convpaint_dinov2.WeightsNotFoundError` naming the folders and the URL
    when the file is nowhere and downloading is off (``HF_HUB_OFFLINE=1``) or fails.
    """
    dirs = search_dirs()
    for folder in dirs:
        if (folder / filename).is_file():
            return folder / filename
    url = RELEASE_URL + filename
    reason = "HF_HUB_OFFLINE is set"
    if not hf_offline():
        target = torch_hub_checkpoints() / filename
        try:
            import torch

            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(url, str(target), progress=False)
            return target
        except Exception as exc:  # no connection, HTTP error, read-only cache ...
            reason = f"download failed: {type(exc).__name__}: {exc}"
    looked = ", ".join(str(d) for d in dirs)
    raise WeightsNotFoundError(
        f"JAFAR checkpoint {filename!r} not found in {looked} ({reason}). Download it from "
        f"{url} on a connected machine and put it in one of these folders (or set "
        f"{ENV_DIR}), or pass weights=PATH (weights='random' gives an untrained upsampler, "
        "for tests only)."
    )


def explicit_checkpoint(path: str | os.PathLike[str], filename: str) -> Path:
    """An explicit checkpoint path, checked to exist (the error names the release file)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsNotFoundError(
            f"JAFAR checkpoint {str(p)!r} does not exist (the release file for this backbone "
            f"is {RELEASE_URL}{filename})"
        )
    return p


class _Inert:
    """Stands in for any global of a checkpoint that torch's allow-list refuses; does nothing."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The network's tensors in a JAFAR checkpoint (release file, bare state dict or safetensors).

    Training checkpoints are unwrapped (``"jafar"``, ``"state_dict"`` or ``"model"``) and a
    ``module.`` prefix (DataParallel) is dropped.  Raises :class:`CheckpointError` when the
    file holds no tensors of a network.
    """
    import torch

    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        obj: Any = load_file(str(path), device="cpu")
    else:
        try:
            refused = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        except Exception:  # not a zip checkpoint: torch.load says what is wrong below
            refused = []
        stand_ins: list[Callable[..., Any] | tuple[Callable[..., Any], str]]
        stand_ins = [(_Inert, name) for name in refused]
        try:
            with torch.serialization.safe_globals(stand_ins):
                obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CheckpointError(
                f"cannot read JAFAR checkpoint {str(path)!r}: {_reason(exc)}"
            ) from exc
    for key in ("jafar", "state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(
            f"{str(path)!r} holds no state dict (got {type(obj).__name__}); expected a JAFAR "
            f"checkpoint from {RELEASE_URL}"
        )
    state = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not state:
        keys = ", ".join(sorted(map(str, obj))[:8])
        raise CheckpointError(f"{str(path)!r} holds no tensors (keys: {keys})")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _reason(exc: Exception) -> str:
    """The informative line of a ``torch.load`` error (not its advice to unpickle unsafely)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "GLOBAL" in line or line.startswith("Trying to"):
            return line + " (refused: checkpoints are never unpickled unrestricted)"
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def architecture(state: dict[str, Any], source: str) -> dict[str, int]:
    """``Jafar`` keyword arguments read off the tensor shapes of a checkpoint."""
    try:
        first = state["image_encoder.0.weight"]
        values = state["key_features_encoder.0.weight"]
    except KeyError as exc:
        sample = ", ".join(sorted(state)[:6])
        raise CheckpointError(
            f"{source!r} is not a JAFAR checkpoint: no {exc.args[0]!r} (its keys start "
            f"with: {sample})"
        ) from None
    if first.ndim != 4 or values.ndim != 4:
        raise CheckpointError(f"{source!r}: unexpected encoder weight shapes")
    qk, inputs, kernel, _ = first.shape
    return {
        "input_dim": int(inputs),
        "qk_dim": int(qk),
        "v_dim": int(values.shape[1]),
        "kernel_size": int(kernel),
    }


def load_strict(net: Any, state: dict[str, Any], source: str) -> None:
    """``net.load_state_dict(state, strict=True)`` with an error naming what does not match."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", wrong)):
            if items:
                more = f" and {len(items) - 5} more" if len(items) > 5 else ""
                parts.append(f"{label}: {', '.join(items[:5])}{more}")
        raise CheckpointError(f"{source!r} does not match the JAFAR network ({'; '.join(parts)})")
    net.load_state_dict(state, strict=True)
