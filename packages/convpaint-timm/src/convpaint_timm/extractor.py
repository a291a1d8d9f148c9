"""The ``efficientnet`` (B0) and ``convnext`` (tiny) extractors: timm stage outputs at pixel size."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from convpaint import FeatureExtractor
from convpaint.options import DEVICE, Option, network_weights
from convpaint.torch_support import (
    AUTO,
    RANDOM,
    assign_state_dict,
    network_cache,
    resolve_device,
    resolve_weights,
    weights_option,
    weights_source,
)

from .network import (
    CONVNEXT_TINY,
    EFFICIENTNET_B0,
    Architecture,
    build_trunk,
    halo,
    random_init,
    stage_reaches,
    to_planar,
    upsample_bilinear,
)
from .weights import hub_file, load_tensors

__all__ = [
    "RANDOM",
    "ConvNeXtTinyFeatures",
    "EfficientNetB0Features",
    "TimmCNNFeatures",
]


class TimmCNNFeatures(FeatureExtractor):
    """Outputs of chosen stages of a timm ImageNet CNN, upsampled bilinearly to the input size.

    ``timm.create_model(arch, features_only=True, out_indices=layers)``, cut after the
    deepest chosen stage: only those blocks are built, loaded and run. The input is
    zero-padded at the bottom/right to a multiple of ``alignment`` (the deepest stride).

    Options
    -------
    layers : list of int
        Stage indices (timm's ``out_indices``); returned in ascending order.
    weights : None, "random" or path, default None
        None: ``model.safetensors`` of ``hub_repo`` in the Hugging Face cache (downloaded
        there when online and ``HF_HUB_OFFLINE`` is unset); a path: a ``.safetensors`` or
        ``torch.save`` state dict of the timm model; "random": seeded random init (tests).
    device : str, default "auto"
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N" or "mps".
        Not stored in :meth:`get_options` (a loaded model uses "auto").
    """

    n_input_channels = 3
    rgb = True
    patch_size = 1
    arch: ClassVar[Architecture]
    hub_repo: ClassVar[str]
    default_layers: ClassVar[tuple[int, ...]]
    supports_device = True

    def __init__(
        self,
        layers: int | Iterable[int] | None = None,
        weights: str | os.PathLike[str] | None = None,
        device: str = AUTO,
    ) -> None:
        super().__init__()
        self.layers: list[int] = self.arch.validate_layers(
            self.default_layers if layers is None else layers
        )
        self.weights: str | None = weights_option(weights)
        self.device: str = str(device)
        self._device = resolve_device(self.device)
        self.n_features: int = sum(self.arch.channels[i] for i in self.layers)
        self.alignment = max(self.arch.reductions[i] for i in self.layers)
        # None: the Hugging Face cache (downloaded when online); "random" (warns): None
        self.weights_path: Path | None = resolve_weights(
            self.weights, self.name, lambda: hub_file(self.hub_repo), stacklevel=2
        )
        self._trunk, self.padding, self.n_parameters = _cached_trunk(
            self.arch, tuple(self.layers), *weights_source(self.weights_path), str(self._device)
        )
        # (SE-free trunks on CPU) bit-identical tiling is not promised: oneDNN's
        # convolutions differ by ~1e-6 between input sizes
        self.deterministic = False

    def extract(self, plane: np.ndarray) -> np.ndarray:
        """(3, H, W) float32 -> (n_features, H, W) float32 (any H, W >= 1)."""
        import torch
        import torch.nn.functional as F

        plane = np.asarray(plane, dtype=np.float32)
        if plane.ndim != 3 or plane.shape[0] != 3:
            raise ValueError(f"{self.name} expects a (3, H, W) plane, got shape {plane.shape}")
        _, height, width = plane.shape
        x = torch.from_numpy(np.ascontiguousarray(plane))[None].to(self._device)
        s = self.alignment
        x = F.pad(x, (0, -width % s, 0, -height % s))
        x = x.contiguous(memory_format=torch.channels_last)
        out = np.empty((self.n_features, height, width), np.float32)
        start = 0
        with torch.inference_mode():
            maps = self._trunk(x)
            for index, features in zip(self.layers, maps, strict=True):
                factor = self.arch.reductions[index]
                up = upsample_bilinear(to_planar(features.float()), factor)
                out[start : start + len(up)] = up[:, :height, :width].cpu().numpy()
                start += len(up)
        return out


@network_cache(maxsize=4)
def _cached_trunk(
    arch: Architecture, layers: tuple[int, ...], source: str, stamp: int, device: str
) -> tuple[Any, int, int]:
    """(trunk on ``device``, halo, parameter count); shared by equal extractors."""
    del stamp  # cache key only: a rewritten file is reloaded
    import torch

    trunk = build_trunk(arch, layers)
    padding = halo(stage_reaches(trunk))
    if source == RANDOM:
        trunk = trunk.to_empty(device="cpu")
        random_init(trunk)
    else:
        keys = list(trunk.state_dict())
        tensors = load_tensors(source, keys)
        assign_state_dict(trunk, tensors, source, f"timm's {arch.timm_name}")
    n_parameters = sum(p.numel() for p in trunk.parameters())
    trunk = trunk.to(device=device, dtype=torch.float32)
    trunk = trunk.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return trunk.eval(), padding, n_parameters


class EfficientNetB0Features(TimmCNNFeatures):
    """EfficientNet-B0 (timm ``efficientnet_b0.ra_in1k``): stages 0-4 at strides 2-32.

    Its squeeze-and-excitation blocks average over the whole plane, so features
    depend (slightly) on the tile they are computed in: ``padding`` covers the
    convolutions only, and ``tile_size`` asks the core for large tiles.
    """

    name = "efficientnet"
    description = "EfficientNet-B0 ImageNet stage features (timm; default stages 0-2, 80 features)"
    default_scalings = (1, 2)
    tile_size = 1024
    arch = EFFICIENTNET_B0
    hub_repo = "timm/efficientnet_b0.ra_in1k"
    default_layers = (0, 1, 2)
    options = (
        Option(
            "layers",
            "int-list",
            default_layers,
            "stages (timm out_indices) 0-4 at strides 2-32",
            choices=tuple(range(len(arch.channels))),
        ),
        network_weights(f"model.safetensors of {hub_repo} in the Hugging Face cache"),
        DEVICE,
    )


class ConvNeXtTinyFeatures(TimmCNNFeatures):
    """ConvNeXt-T (timm ``convnext_tiny.in12k_ft_in1k``): stages 0-3 at strides 4-32."""

    name = "convnext"
    description = "ConvNeXt-T ImageNet stage features (timm; default stage 0, 96 features)"
    default_scalings = (1, 2)
    arch = CONVNEXT_TINY
    hub_repo = "timm/convnext_tiny.in12k_ft_in1k"
    default_layers = (0,)
    options = (
        Option(
            "layers",
            "int-list",
            default_layers,
            "stages (timm out_indices) 0-3 at strides 4-32",
            choices=tuple(range(len(arch.channels))),
        ),
        network_weights(f"model.safetensors of {hub_repo} in the Hugging Face cache"),
        DEVICE,
    )
