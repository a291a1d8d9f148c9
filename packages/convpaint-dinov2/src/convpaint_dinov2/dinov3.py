"""The ``dinov3`` extractor: DINOv3 (timm ``*_patch16_dinov3``), one feature vector per 16x16 patch.

DINOv3's weights are released by Meta under the DINOv3 License (not Apache, not BSD):
https://ai.meta.com/resources/models-and-libraries/dinov3-license/ .  Convpaint ships no
weights; whoever downloads them accepts that licence.
"""

from __future__ import annotations

import os
from typing import Any

from convpaint.options import DEVICE, Option, network_weights

from .vit import ViTExtractor

#: timm architecture -> features per patch (the ViT's embedding width)
ARCHITECTURES: dict[str, int] = {
    "vit_small_patch16_dinov3": 384,
    "vit_small_patch16_dinov3_qkvb": 384,
    "vit_small_plus_patch16_dinov3": 384,
    "vit_small_plus_patch16_dinov3_qkvb": 384,
    "vit_base_patch16_dinov3": 768,
    "vit_base_patch16_dinov3_qkvb": 768,
    "vit_large_patch16_dinov3": 1024,
    "vit_large_patch16_dinov3_qkvb": 1024,
    "vit_huge_plus_patch16_dinov3": 1280,
    "vit_huge_plus_patch16_dinov3_qkvb": 1280,
    "vit_7b_patch16_dinov3": 4096,
}
#: pretrained tags timm publishes (``sat493m``: satellite imagery, large and 7B only)
TAGS: dict[str, tuple[str, ...]] = {
    "lvd1689m": tuple(ARCHITECTURES),
    "sat493m": (
        "vit_large_patch16_dinov3",
        "vit_large_patch16_dinov3_qkvb",
        "vit_7b_patch16_dinov3",
    ),
}
MODELS: tuple[str, ...] = tuple(f"{a}.{t}" for t, archs in TAGS.items() for a in archs)
DEFAULT = "vit_small_plus_patch16_dinov3.lvd1689m"


def parse_model(model: object) -> tuple[str, str]:
    """``(architecture, tag)`` of a timm DINOv3 name; a ``ValueError`` listing the choices."""
    if not isinstance(model, str):
        raise TypeError(f"dinov3 model must be a timm model name (str), got {model!r}")
    arch, _, tag = model.partition(".")
    if arch not in TAGS.get(tag, ()):
        raise ValueError(f"dinov3 model must be one of {', '.join(MODELS)}; got {model!r}")
    return arch, tag


class DinoV3(ViTExtractor):
    """DINOv3 ViT/16 with four registers (default ViT-S+/16, ``lvd1689m``, 384 features).

    Parameters
    ----------
    model : str
        timm name ``<architecture>.<tag>``, e.g. ``"vit_base_patch16_dinov3.lvd1689m"``
        (see :data:`MODELS`).
    weights : None, path or "random"
        None: the Hugging Face cache (``timm/<model>``, downloaded when online); a path:
        a ``.safetensors`` or ``torch.save`` state dict (timm keys, or Meta's original
        DINOv3 keys); ``"random"``: an untrained network with a fixed seed (tests only).
    device : str
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N" or "mps".

    The weights are under the DINOv3 License (Meta), not an open-source licence.
    """

    name = "dinov3"
    description = "DINOv3 ViT-S+/16 with registers (timm lvd1689m; DINOv3 License): 16x16 patches"
    patch_size = 16
    padding = 64  # a halo of 4 patches, as for dinov2 and uni
    tile_size = 512  # 32 x 32 patches
    models: tuple[str, ...] = MODELS
    options = (
        Option("model", "str", DEFAULT, "timm DINOv3 model <architecture>.<tag>", choices=MODELS),
        network_weights("the Hugging Face cache (timm/<model>)"),
        DEVICE,
    )

    def __init__(
        self,
        model: str = DEFAULT,
        weights: str | os.PathLike[str] | None = None,
        device: str = "auto",
    ) -> None:
        self.arch, _ = parse_model(model)
        self.model = model
        self.n_features = ARCHITECTURES[self.arch]
        self.hub_repo = f"timm/{model}"  # type: ignore[misc]
        super().__init__(weights, device)

    def _build(self) -> Any:
        import timm

        if not timm.is_model(self.arch):
            raise ImportError(
                f"dinov3 model {self.model!r} is not in the installed timm {timm.__version__}: "
                "DINOv3 needs a newer timm (pip install -U timm)"
            )
        return super()._build()

    def timm_spec(self) -> tuple[str, dict[str, Any]]:
        return self.arch, {"dynamic_img_size": True, "num_classes": 0}
