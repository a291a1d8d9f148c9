"""The cellpose-SAM network and a forward pass that keeps the encoder features.

cellpose 4's ``CPSAM`` is SAM's ViT-L image encoder with 8x8 patches, position
embeddings for 256x256 inputs (32x32 tokens) and global attention, followed by a
1x1 readout that a fixed transposed convolution unpacks into three pixel maps:
Y flow, X flow and cell probability (logit).
"""

from __future__ import annotations

import logging
from typing import Any

from convpaint.torch_support import (
    RANDOM,
    assign_state_dict,
    check_materialised,
    network_cache,
    seeded,
)

from .weights import load_state_dict

__all__ = ["N_ENCODER", "N_OUTPUT", "PATCH", "RANDOM", "WINDOW", "build_network", "forward"]
WINDOW = 256  # the only input size cellpose-SAM's position embeddings accept
PATCH = 8
N_ENCODER = 256  # channels of the encoder neck
N_OUTPUT = 3  # Y flow, X flow, cell probability


@network_cache(maxsize=1)
def build_network(source: str, stamp: int = 0, device: str = "cpu") -> Any:
    """``CPSAM`` in eval mode on ``device`` with the weights of ``source`` (a file, or ``"random"``).

    Built once per process and (source, file stamp, device), even when tiles in several
    threads ask at once.  Random weights come from a fixed seed, so a saved model that used
    them rebuilds the same network.  Files are loaded strictly (a wrong checkpoint fails
    loudly) into a network built on the meta device, so no time is spent on a random init.
    """
    import torch

    logging.getLogger("cellpose.vit").setLevel(logging.ERROR)  # optional dinov3 backbone
    from cellpose.vit import CPSAM

    if source == RANDOM:
        with seeded(0):
            net = CPSAM()
        return net.to(device).eval()
    state = load_state_dict(source)
    with torch.device("meta"):  # no time spent on a random init that is overwritten
        net = CPSAM()
    assign_state_dict(net, state, source, "cellpose-SAM (CPSAM)", what="cellpose weights file")
    check_materialised(net, source, "cellpose")
    return net.to(device).eval()


_build_network = build_network  # the cache under its former name (cache_clear)


def forward(net: Any, x: Any, precision: str = "float32") -> tuple[Any, Any]:
    """Encoder-neck features (B, 256, h/8, w/8) and output maps (B, 3, h, w), float32.

    Mirrors ``CPSAM.forward`` (eval mode) but also returns the neck output.
    ``precision="bfloat16"`` runs under CPU/GPU autocast.
    """
    import torch
    import torch.nn.functional as F

    enc = net.encoder
    dtype = torch.bfloat16 if precision == "bfloat16" else None
    with torch.inference_mode(), torch.autocast(x.device.type, dtype, enabled=dtype is not None):
        proj = enc.patch_embed.proj
        h = F.conv2d(x, proj.weight[:, : x.shape[1]], proj.bias, stride=net.ps)
        h = h.permute(0, 2, 3, 1) + enc.pos_embed
        for block in enc.blocks:
            h = block(h)
        neck = enc.neck(h.permute(0, 3, 1, 2))
        maps = F.conv_transpose2d(net.out(neck), net.W2, stride=net.ps)
    return neck.float(), maps.float()
