"""The ``dinov2`` extractor: DINOv2 with registers, one feature vector per 14x14 patch."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from convpaint.options import DEVICE, Option, network_weights

from .vit import ViTExtractor

#: size -> (timm architecture, features per patch)
SIZES: dict[str, tuple[str, int]] = {
    "small": ("vit_small_patch14_reg4_dinov2", 384),
    "base": ("vit_base_patch14_reg4_dinov2", 768),
    "large": ("vit_large_patch14_reg4_dinov2", 1024),
    "giant": ("vit_giant_patch14_reg4_dinov2", 1536),
}
TAG = "lvd142m"


class DinoV2(ViTExtractor):
    """DINOv2 ViT-{S,B,L,g}/14 with four registers (timm weights ``.lvd142m``).

    Parameters
    ----------
    size : {"small", "base", "large", "giant"}
        Model size; ``small`` (ViT-S/14, 384 features) is the paper's choice.
    weights : None, path or "random"
        None: the Hugging Face cache (``timm/<arch>.lvd142m``, downloaded when online);
        a path: a ``.safetensors`` or ``torch.save`` state dict (timm or original DINOv2
        keys); ``"random"``: an untrained network with a fixed seed (tests only).
    device : str
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N" or "mps".
    """

    name = "dinov2"
    description = "DINOv2 ViT with registers (timm lvd142m): features per 14x14 patch"
    patch_size = 14
    padding = 56  # a halo of 4 patches, see docs/extractors-vit-cellpose.md
    tile_size = 518  # 37 x 37 patches, DINOv2's own training resolution
    sizes: ClassVar[tuple[str, ...]] = tuple(SIZES)
    options = (
        Option("size", "str", "small", "ViT size (small: ViT-S/14, 384 features)", choices=sizes),
        network_weights("the Hugging Face cache (timm/<architecture>.lvd142m)"),
        DEVICE,
    )

    def __init__(
        self,
        size: str = "small",
        weights: str | os.PathLike[str] | None = None,
        device: str = "auto",
    ) -> None:
        if size not in SIZES:
            raise ValueError(f"dinov2 size must be one of {', '.join(SIZES)}; got {size!r}")
        self.size = size
        self.n_features = SIZES[size][1]
        self.hub_repo = f"timm/{SIZES[size][0]}.{TAG}"  # type: ignore[misc]
        super().__init__(weights, device)

    def timm_spec(self) -> tuple[str, dict[str, Any]]:
        return SIZES[self.size][0], {"dynamic_img_size": True, "num_classes": 0}
