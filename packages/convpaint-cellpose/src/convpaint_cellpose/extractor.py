"""The ``cellpose`` extractor: cellpose-SAM encoder features and flow/probability maps."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from convpaint import FeatureExtractor
from convpaint.options import DEVICE, Option
from convpaint.torch_support import (
    AUTO,
    RANDOM,
    build_once,
    resolve_device,
    warn_random_weights,
    weights_option,
    weights_source,
)

from . import network
from .weights import resolve
from .windows import Blender, windows

FEATURES = ("both", "encoder", "output")
PRECISIONS = ("float32", "bfloat16")


def normalize99(plane: np.ndarray) -> np.ndarray:
    """cellpose's normalisation, per channel: 1st percentile -> 0, 99th -> 1."""
    out = np.zeros_like(plane, dtype=np.float32)
    for c, channel in enumerate(plane):
        lo, hi = np.percentile(channel, [1, 99])
        if hi - lo > 1e-3:
            out[c] = (channel - lo) / (hi - lo)
    return out


def cellpose_channels(plane: np.ndarray) -> np.ndarray:
    """Up to 3 channels; a gray plane that the core replicated to 3 goes in as 1 channel."""
    plane = plane[:3]
    if len(plane) > 1 and all(np.array_equal(plane[0], c) for c in plane[1:]):
        return plane[:1]
    return plane


class Cellpose(FeatureExtractor):
    """Features of the cellpose 4 (cellpose-SAM) network.

    Parameters
    ----------
    weights : None, name, path or "random"
        None: ``cpsam`` in cellpose's model folder (``CELLPOSE_LOCAL_MODELS_PATH`` or
        ``~/.cellpose/models``); another name there (e.g. ``"cpsam_v2"``); a path to a
        cellpose 4 checkpoint; ``"random"``: an untrained network (tests only).
    features : {"both", "encoder", "output"}
        The 256 encoder-neck channels, the 3 output maps (Y flow, X flow, cell
        probability), or both (259 features per pixel).
    precision : {"float32", "bfloat16"}
        Arithmetic of the network (bfloat16 autocast).
    device : str
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N" or "mps"; not
        stored in :meth:`get_options` (a loaded model uses "auto").
    """

    name = "cellpose"
    description = "cellpose-SAM (cellpose 4) encoder features + flows and cell probability"
    n_input_channels = 3
    rgb = False  # cellpose normalises each plane itself (1st-99th percentile)
    patch_size = 1  # output maps are at pixel resolution; tokens are upsampled here
    alignment = network.PATCH
    padding = 64  # 8 tokens of context around every core tile
    tile_size = 1024  # blocks of 1024 + 2 * 72 = 1168 pixels: 6 x 6 windows
    default_scalings = (1,)
    deterministic = False  # window layout and attention depend on the tile: tiled != untiled
    window_overlap: ClassVar[float] = 0.1  # cellpose's tile_overlap
    supports_device = True
    options = (
        Option(
            "weights",
            "path",
            None,
            "null: cpsam in cellpose's model folder; a model name there or a checkpoint path; "
            "random: untrained (tests only)",
            choices=("random",),
        ),
        Option(
            "features", "str", "both", "encoder (256), output maps (3) or both", choices=FEATURES
        ),
        Option("precision", "str", "float32", "network arithmetic", choices=PRECISIONS),
        DEVICE,
    )

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        features: str = "both",
        precision: str = "float32",
        device: str = AUTO,
    ) -> None:
        super().__init__()
        if features not in FEATURES:
            raise ValueError(f"features must be one of {', '.join(FEATURES)}; got {features!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        self.weights = weights_option(weights)
        self.features = features
        self.precision = precision
        self.device = str(device)
        self._device = resolve_device(device)
        self._net: Any = None
        if self.weights == RANDOM:
            warn_random_weights(self.name, stacklevel=2)
            self.weights_file = None
        else:  # None: cpsam in the model folder; a model name there; a path
            self.weights_file = resolve(self.weights)

    @property
    def n_features(self) -> int:  # type: ignore[override]  # derived from ``features``
        enc = network.N_ENCODER if self.features != "output" else 0
        return enc + (network.N_OUTPUT if self.features != "encoder" else 0)

    @property
    def network(self) -> Any:
        """The torch module, built on first use and shared between equal extractors."""

        def build() -> Any:  # the key has the file's mtime: a rewritten file is reloaded
            return network.build_network(*weights_source(self.weights_file), str(self._device))

        return build_once(self, "_net", build)

    def extract(self, plane: np.ndarray) -> np.ndarray:
        import torch

        from convpaint import upsample_bilinear

        _, h, w = plane.shape
        size, patch = network.WINDOW, network.PATCH
        x = normalize99(cellpose_channels(np.asarray(plane, dtype=np.float32)))
        # cellpose pads small planes with zeros (= the 1st percentile); also round to patches
        ph, pw = max(size, -(-h // patch) * patch), max(size, -(-w // patch) * patch)
        x = np.pad(x, [(0, 0), (0, ph - h), (0, pw - w)])
        net = self.network
        enc = Blender(network.N_ENCODER, (ph, pw), size, patch)
        out = Blender(network.N_OUTPUT, (ph, pw), size)
        for y0, x0 in windows((ph, pw), size, self.window_overlap):
            window = torch.from_numpy(np.ascontiguousarray(x[:, y0 : y0 + size, x0 : x0 + size]))
            neck, maps = network.forward(net, window[None].to(self._device), self.precision)
            enc.add(neck[0].cpu().numpy(), y0, x0)
            out.add(maps[0].cpu().numpy(), y0, x0)
        parts = []
        if self.features != "output":
            parts.append(upsample_bilinear(enc.result(), patch)[:, :h, :w])
        if self.features != "encoder":
            parts.append(out.result()[:, :h, :w])
        return np.ascontiguousarray(np.concatenate(parts, axis=0), dtype=np.float32)
