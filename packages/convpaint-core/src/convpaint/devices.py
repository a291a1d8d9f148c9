"""Torch devices of extractors: ``device="auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``.

The core never imports torch; extractors built on it (``vgg16``, ``dinov2``, ``uni``,
``cellpose``) resolve their ``device`` option here.  ``device`` says where features are
computed, not what they are, so extractors leave it out of ``get_options()``: a model file
saved on a GPU machine loads anywhere, with ``"auto"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

AUTO = "auto"
CHOICES = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"


def resolve_device(device: Any = AUTO) -> torch.device:
    """The ``torch.device`` for a device option; a clear ``ValueError`` if it is unusable.

    ``"auto"``: the first CUDA GPU when torch sees one, else the CPU.
    """
    import torch

    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda', got {device!r}")
    if str(device) == AUTO:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"invalid device {device!r}: use {CHOICES}") from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {str(device)!r} requested but CUDA is not available (no GPU, or a "
                f"CPU-only torch {torch.__version__}); use 'auto' or 'cpu'"
            )
        count = torch.cuda.device_count()
        if resolved.index is not None and resolved.index >= count:
            raise ValueError(
                f"device {str(device)!r} requested but torch sees {count} CUDA device(s)"
            )
    elif resolved.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(
                f"device {str(device)!r} requested but MPS is not available; use 'cpu'"
            )
    elif resolved.type != "cpu":
        raise ValueError(f"unsupported device {str(device)!r}: use {CHOICES}")
    return resolved
