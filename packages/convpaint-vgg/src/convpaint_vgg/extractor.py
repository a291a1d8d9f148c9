"""The ``vgg16`` extractor: ImageNet VGG16 conv-layer outputs at full resolution."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from convpaint import FeatureExtractor
from convpaint.options import DEVICE, Option, network_weights
from convpaint.torch_support import (
    RANDOM,
    assign_state_dict,
    resolve_device,
    resolve_weights,
    weights_option,
)

from .network import (
    CONV_LAYERS,
    build_trunk,
    halo,
    n_parameters,
    random_init,
    to_planar,
    upsample_bilinear,
    validate_layers,
)
from .weights import download_weights, load_tensors, resolve_weights_path

if TYPE_CHECKING:
    import torch

__all__ = ["RANDOM", "VGG16Features"]


class VGG16Features(FeatureExtractor):
    """Outputs of chosen Conv2d layers of torchvision's ImageNet VGG16.

    Features are the raw convolution outputs, before ReLU, for every chosen layer.
    Layers after max-pools are upsampled bilinearly back to the input size; the
    input is zero-padded at the bottom/right to a multiple of ``alignment`` first.

    Options
    -------
    layers : list of int, default [0]
        Indices into ``torchvision.models.vgg16().features`` of Conv2d layers
        (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28); returned in ascending order.
    weights : None, "random" or path, default None
        None: ``vgg16-397923af.pth`` in the torch hub cache (``torch.hub.get_dir()``,
        honours ``TORCH_HOME``); a path: a .pth or .safetensors state dict of
        ``vgg16`` or ``vgg16().features``; "random": seeded random init (tests only).
    device : str, default "auto"
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N" or "mps".
        Not stored in :meth:`get_options` (a loaded model uses "auto").
    download : bool, default False
        With ``weights=None``: download the checkpoint into the hub cache if missing.
        Never stored in :meth:`get_options`.
    """

    name = "vgg16"
    description = "VGG16 ImageNet conv features (default: first conv layer, 64 features)"
    n_input_channels = 3
    rgb = True
    patch_size = 1
    default_scalings = (1, 2, 4)
    padding = 1
    alignment = 1
    supports_device = True
    options = (
        Option(
            "layers",
            "int-list",
            (0,),
            "Conv2d layers of vgg16().features",
            choices=tuple(CONV_LAYERS),
        ),
        network_weights("vgg16-397923af.pth in the torch hub cache"),
        DEVICE,
        Option("download", "bool", False, "download missing hub weights", stored=False),
    )

    def __init__(
        self,
        layers: int | Iterable[int] = (0,),
        weights: str | os.PathLike[str] | None = None,
        device: str = "auto",
        download: bool = False,
    ) -> None:
        self.layers: list[int] = validate_layers(layers)
        self.weights: str | None = weights_option(weights)
        if download and self.weights is not None:
            raise ValueError("download=True only applies to weights=None (the torch hub cache)")
        self.device: str = str(device)
        self._device = resolve_device(self.device)
        last = self.layers[-1]
        self.padding = halo(self.layers)
        self.alignment = 2 ** CONV_LAYERS[last].n_pools
        # bit-identical tiled == untiled holds on CPU for the first conv layer only
        # (channels-last); oneDNN's deeper convolutions differ by ~1e-6 between input sizes
        self.deterministic = self._device.type == "cpu" and self.layers == [0]
        self.n_features: int = sum(CONV_LAYERS[i].out_channels for i in self.layers)
        self.n_parameters: int = n_parameters(last)
        self.weights_path: Path | None = None
        self._trunk = self._build(last, download)

    def _build(self, last: int, download: bool) -> torch.nn.Sequential:
        import torch

        if download:
            path: Path | None = download_weights()
        else:  # None: the torch hub cache; "random" (warns): None
            path = resolve_weights(
                self.weights, self.name, lambda: resolve_weights_path(None),
                what="VGG16 weights file", stacklevel=3,
            )  # fmt: skip
        if path is None:
            trunk = build_trunk(last)
            random_init(trunk)
        else:
            keys = [f"{i}.{kind}" for i in CONV_LAYERS if i <= last for kind in ("weight", "bias")]
            tensors = load_tensors(path, keys)
            trunk = build_trunk(last, device="meta")
            assign_state_dict(trunk, tensors, path, "vgg16().features", what="VGG16 weights file")
            self.weights_path = path
        trunk = trunk.to(device=self._device, dtype=torch.float32)
        return trunk.to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]

    def extract(self, plane: np.ndarray) -> np.ndarray:
        """(3, H, W) float32 -> (n_features, H, W) float32 (any H, W >= 1)."""
        import torch
        import torch.nn.functional as F

        plane = np.asarray(plane, dtype=np.float32)
        if plane.ndim != 3 or plane.shape[0] != 3:
            raise ValueError(f"vgg16 expects a (3, H, W) plane, got shape {plane.shape}")
        _, height, width = plane.shape
        x = torch.from_numpy(np.ascontiguousarray(plane))[None].to(self._device)
        s = self.alignment
        if height % s or width % s:
            x = F.pad(x, (0, -width % s, 0, -height % s))
        x = x.contiguous(memory_format=torch.channels_last)
        single = len(self.layers) == 1
        out = None if single else np.empty((self.n_features, height, width), np.float32)
        start = 0
        with torch.inference_mode():
            for index, module in enumerate(self._trunk):
                if index - 1 in self.layers:  # a ReLU after a kept conv must not act in place
                    x = torch.relu(x)
                    continue
                x = module(x)
                if index not in self.layers:
                    continue
                factor = 2 ** CONV_LAYERS[index].n_pools
                # layers before the first pooling stay channels-last: a (C, H, W) view, no copy
                features = upsample_bilinear(to_planar(x), factor) if factor > 1 else x[0]
                features = features[:, :height, :width].cpu().numpy()
                if out is None:
                    return features
                out[start : start + len(features)] = features
                start += len(features)
        assert out is not None  # self.layers is never empty
        return out
