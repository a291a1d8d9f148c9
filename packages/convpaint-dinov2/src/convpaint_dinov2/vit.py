"""Patch tokens of a timm vision transformer as Convpaint features.

The network runs on the whole plane it is handed (``dynamic_img_size=True``
interpolates the position embeddings to any multiple of the patch size); the
class and register tokens are dropped and the patch tokens are returned as a
``(features, H / patch, W / patch)`` map.  The core upsamples that map bilinearly
to pixel resolution.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from convpaint import FeatureExtractor
from convpaint.options import DEVICE, Option, network_weights
from convpaint.torch_support import (
    AUTO,
    HF_WEIGHT_FILES,
    RANDOM,
    assign_state_dict,
    build_once,
    check_materialised,
    network_cache,
    resolve_device,
    resolve_weights,
    seeded,
    weights_source,
)

from .weights import find_hub_file, load_state_dict

__all__ = ["RANDOM", "ViTExtractor", "build_network"]


class ViTExtractor(FeatureExtractor):
    """Base class: a timm ViT whose weights come from the hub cache, a file, or ``"random"``.

    Subclasses set ``hub_repo``, ``hub_files``, ``patch_size`` and implement
    :meth:`timm_spec`.  ``device`` ("auto": CUDA when available, else CPU; "cpu",
    "cuda", "cuda:N", "mps") is where the network runs; it is not stored in
    :meth:`get_options`, so a loaded model uses "auto".
    """

    n_input_channels = 3
    rgb = True
    default_scalings = (1,)
    deterministic = False  # global attention: tiled != untiled (see the docs for how much)
    hub_repo: ClassVar[str] = ""
    hub_files: ClassVar[tuple[str, ...]] = HF_WEIGHT_FILES
    supports_device = True
    options: ClassVar[tuple[Option, ...]] = (
        network_weights("the Hugging Face cache of the model"),
        DEVICE,
    )

    def __init__(self, weights: str | os.PathLike[str] | None = None, device: str = AUTO) -> None:
        super().__init__()
        self._net: Any = None
        self.device = str(device)
        self._device = resolve_device(device)
        self.weights = None if weights is None else os.fspath(weights)
        # None: the Hugging Face cache (downloaded when online); "random" (warns): None
        self.weights_file: Path | None = resolve_weights(
            self.weights, self.name, lambda: find_hub_file(self.hub_repo, self.hub_files),
            stacklevel=3,
        )  # fmt: skip

    def timm_spec(self) -> tuple[str, dict[str, Any]]:
        """timm architecture name and keyword arguments of ``timm.create_model``."""
        raise NotImplementedError

    @property
    def network(self) -> Any:
        """The torch module (built on first use and shared between equal extractors)."""
        return build_once(self, "_net", self._build)  # one build when tiles ask from threads

    def _build(self) -> Any:
        name, kwargs = self.timm_spec()
        key = tuple(sorted(kwargs.items()))
        source, stamp = weights_source(self.weights_file)  # a rewritten file is reloaded
        return build_network(name, key, source, stamp, str(self._device))

    def extract(self, plane: np.ndarray) -> np.ndarray:
        import torch

        net = self.network
        _, h, w = plane.shape
        x = torch.from_numpy(np.ascontiguousarray(plane, dtype=np.float32))[None]
        with torch.inference_mode():
            tokens = net.forward_features(x.to(self._device))[0, net.num_prefix_tokens :]
        grid = tokens.reshape(h // self.patch_size, w // self.patch_size, -1)
        return grid.permute(2, 0, 1).float().cpu().numpy()


@network_cache(maxsize=2)
def build_network(
    name: str, kwargs: tuple[tuple[str, Any], ...], source: str, stamp: int, device: str = "cpu"
) -> Any:
    """A timm ViT in eval mode on ``device`` with the weights of ``source`` (a file, or ``"random"``).

    Random weights are drawn from a fixed seed so that a saved model that used them
    rebuilds the same network.  Files are loaded strictly into a network built on the
    meta device.
    """
    import timm
    import torch

    if source == RANDOM:
        with seeded(0):
            net = timm.create_model(name, pretrained=False, **dict(kwargs))
        return net.to(device).eval()
    with torch.device("meta"):  # no time spent on a random init that is overwritten
        net = timm.create_model(name, pretrained=False, **dict(kwargs))
    state = timm_key_filter(net)(load_state_dict(source), net)
    assign_state_dict(net, state, source, f"timm's {name}")
    init_derived_buffers(net)
    check_materialised(net, source, name)
    return net.to(device).eval()


def timm_key_filter(net: Any) -> Any:
    """The ``checkpoint_filter_fn`` of the timm module that defines ``net`` (original keys -> timm).

    ``vision_transformer`` converts DINOv2 checkpoints, ``eva`` DINOv3 ones; its diagnostic
    prints are silenced.
    """
    import contextlib
    import importlib
    import io

    module = importlib.import_module(type(net).__module__)
    filter_fn = getattr(module, "checkpoint_filter_fn", None)

    def apply(state: dict[str, Any], model: Any) -> dict[str, Any]:
        if filter_fn is None:
            return state
        with contextlib.redirect_stdout(io.StringIO()):
            return dict(filter_fn(state, model))

    return apply


def init_derived_buffers(net: Any) -> None:
    """Fill the non-persistent buffers left on the meta device (e.g. DINOv3's RoPE periods).

    Only modules without parameters of their own are re-initialised (their
    ``reset_parameters`` computes the buffers), so no loaded tensor is overwritten.
    """
    for module in net.modules():
        if not any(b.is_meta for b in module.buffers(recurse=False)):
            continue
        if next(module.parameters(recurse=False), None) is not None:
            continue  # left for the final check to report
        reset = getattr(module, "reset_parameters", None)
        if reset is not None:
            module.to_empty(device="cpu", recurse=False)
            reset()
