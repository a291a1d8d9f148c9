"""The ``uni`` extractor: UNI, a ViT-L/16 trained on histology, one feature vector per 16x16 patch."""

from __future__ import annotations

from typing import Any

from convpaint.options import DEVICE, network_weights

from .vit import ViTExtractor


class UNI(ViTExtractor):
    """UNI (Chen et al. 2024, ``hf-hub:MahmoodLab/UNI``, gated): 1024 features per 16x16 patch.

    Parameters
    ----------
    weights : None, path or "random"
        None: the Hugging Face cache of ``MahmoodLab/UNI`` (accept the licence on the hub,
        then ``hf download MahmoodLab/UNI``); a path: the ``pytorch_model.bin`` or a
        ``.safetensors`` state dict; ``"random"``: an untrained network (tests only).
    device : str
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N" or "mps".
    """

    name = "uni"
    description = "UNI ViT-L/16 histology foundation model: features per 16x16 patch"
    patch_size = 16
    padding = 64  # a halo of 4 patches
    tile_size = 512  # 32 x 32 patches
    hub_repo = "MahmoodLab/UNI"
    n_features = 1024
    options = (network_weights("the Hugging Face cache of MahmoodLab/UNI (gated)"), DEVICE)

    def timm_spec(self) -> tuple[str, dict[str, Any]]:
        # UNI's published timm configuration
        return "vit_large_patch16_224", {
            "img_size": 224,
            "patch_size": 16,
            "init_values": 1e-5,
            "num_classes": 0,
            "dynamic_img_size": True,
        }
