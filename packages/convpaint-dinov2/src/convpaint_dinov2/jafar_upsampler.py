"""The ``jafar`` feature upsampler: JAFAR (arXiv 2506.11136) on ViT patch features.

Importing this module does not import torch; the network is built on first use.  See
:mod:`convpaint_dinov2.jafar` for the architecture and :mod:`convpaint_dinov2.jafar_weights`
for where checkpoints are looked for.
"""

from __future__ import annotations

import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from convpaint.devices import AUTO, resolve_device
from convpaint.options import DEVICE, Option
from convpaint.upsampler import FeatureUpsampler

from .jafar_weights import RELEASE_URL, architecture, explicit_checkpoint, find_checkpoint

RANDOM = "random"
#: halo of a tile, in coarse positions (attention is global: context, not exactness)
CONTEXT_PATCHES = 4
#: coarse positions per side of one attention window (the authors train on 448 px images,
#: 32 x 32 patches of 14 px; napari-convpaint runs JAFAR on tiles of 32 patches)
WINDOW = 32
_BUILD_LOCK = threading.Lock()


class Backbone(NamedTuple):
    """A backbone the authors released a JAFAR checkpoint for."""

    filename: str  # release asset name
    n_features: int
    patch_size: int
    extractor: str  # the convpaint extractor (and its option) that produces these features


#: JAFAR release checkpoints by backbone (timm name of the backbone they were trained on)
BACKBONES: dict[str, Backbone] = {
    "vit_small_patch14_reg4_dinov2": Backbone(
        "vit_small_patch14_reg4_dinov2.pth", 384, 14, "dinov2"
    ),
    "vit_small_plus_patch16_dinov3.lvd1689m": Backbone(
        "vit_small_plus_patch16_dinov3.lvd1689m.pth", 384, 16, "dinov3"
    ),
    "vit_small_patch16_dinov3.lvd1689m": Backbone(
        "vit_small_patch16_dinov3.lvd1689m.pth",
        384,
        16,
        "dinov3 model='vit_small_patch16_dinov3.lvd1689m'",
    ),
    "vit_base_patch16_dinov3.lvd1689m": Backbone(
        "vit_base_patch16_dinov3.lvd1689m.pth",
        768,
        16,
        "dinov3 model='vit_base_patch16_dinov3.lvd1689m'",
    ),
    "vit_large_patch16_dinov3.lvd1689m": Backbone(
        "vit_large_patch16_dinov3.lvd1689m.pth",
        1024,
        16,
        "dinov3 model='vit_large_patch16_dinov3.lvd1689m'",
    ),
}
#: short names: the backbone of each extractor's default model
ALIASES: dict[str, str] = {
    "dinov2": "vit_small_patch14_reg4_dinov2",
    "dinov3": "vit_small_plus_patch16_dinov3.lvd1689m",
}
CHOICES = (*ALIASES, *BACKBONES)


def parse_backbone(backbone: object) -> str:
    """The full backbone name of ``backbone`` (an alias or a key of :data:`BACKBONES`)."""
    if not isinstance(backbone, str) or ALIASES.get(backbone, backbone) not in BACKBONES:
        raise ValueError(f"jafar backbone must be one of {', '.join(CHOICES)}; got {backbone!r}")
    return ALIASES.get(backbone, backbone)


class JafarUpsampler(FeatureUpsampler):
    """JAFAR: attention from full-resolution image queries to the backbone's patch features.

    Parameters
    ----------
    weights : None, path or "random"
        None: the authors' release checkpoint for ``backbone``, looked for in
        ``$CONVPAINT_JAFAR_DIR`` and ``$TORCH_HOME/hub/checkpoints`` (downloaded there when
        online); a path: a JAFAR checkpoint (the release ``.pth``, a bare state dict or
        ``.safetensors``); ``"random"``: an untrained network with a fixed seed (tests only).
    backbone : str
        The backbone whose features are upsampled: ``"dinov2"`` (ViT-S/14 with registers,
        the ``dinov2`` extractor's default), ``"dinov3"`` (ViT-S+/16, the ``dinov3``
        default) or a full name of :data:`BACKBONES`.
    window : int or None
        Coarse positions per side of one attention window (default 32, the authors'
        training size): a block handed to :meth:`upsample` is cut into windows of
        ``window`` x ``window`` patches, each upsampled with 4 patches of context around
        it, so that cost per pixel does not grow with the block.  0 or None: one global
        attention over the whole block (the paper's inference; cost grows with the block).
    device : str
        "auto" (CUDA when available, else CPU), "cpu", "cuda", "cuda:N" or "mps".

    Attention is global within a window and the normalisations use the window's
    statistics, so tiles differ slightly from the whole plane (``tile_exact = False``);
    :meth:`context` gives every tile a halo of 4 coarse positions.  Attention scores are
    computed in chunks of pixels (bounded memory).
    """

    name = "jafar"
    description = "JAFAR attention upsampler (arXiv 2506.11136) for dinov2 / dinov3 features"
    padding = 64
    tile_exact = False
    deterministic = True
    options = (
        Option(
            "weights", "path", None,
            "JAFAR checkpoint (default: the release file in the cache; 'random': tests only)",
            choices=(RANDOM,),
        ),
        Option("backbone", "str", "dinov2", "the backbone whose features it upsamples",
               choices=CHOICES),
        Option("window", "int", WINDOW, "patches per side of one attention window (0: one "
               "window over the whole block)", minimum=0),
        DEVICE,
    )  # fmt: skip

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        backbone: str = "dinov2",
        window: int | None = WINDOW,
        device: str = AUTO,
    ) -> None:
        self.backbone = parse_backbone(backbone)
        if window is not None and (
            isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0
        ):
            raise ValueError(f"jafar window must be an integer >= 0 or None, got {window!r}")
        self.window = int(window) if window else None  # 0 or None: one global window
        self.spec = BACKBONES[self.backbone]
        self.n_features = self.spec.n_features
        self.device = str(device)
        self._device = resolve_device(device)
        # GPU kernels (atomics in the convolutions' reductions) are not bit-reproducible
        self.deterministic = self._device.type == "cpu"
        self.weights = None if weights is None else os.fspath(weights)
        self._net: Any = None
        if self.weights == RANDOM:
            warnings.warn(
                "upsampler 'jafar' uses random weights: an untrained network (meant for "
                "tests, not for segmentation)",
                UserWarning,
                stacklevel=2,
            )
            self.weights_file: Path | None = None
        elif self.weights is None:
            self.weights_file = find_checkpoint(self.spec.filename)
        else:
            self.weights_file = explicit_checkpoint(self.weights, self.spec.filename)

    @property
    def network(self) -> Any:
        """The torch module (built on first use, shared between equal upsamplers)."""
        if self._net is None:
            with _BUILD_LOCK:
                if self._net is None:
                    if self.weights_file is None:
                        source, stamp = RANDOM, 0
                    else:
                        source = str(self.weights_file)
                        stamp = self.weights_file.stat().st_mtime_ns  # a new file is reloaded
                    net = build_network(self.backbone, source, stamp, str(self._device))
                    if net.v_dim != self.n_features:
                        raise ValueError(
                            f"JAFAR checkpoint {source!r} upsamples {net.v_dim} features, but "
                            f"backbone {self.backbone!r} has {self.n_features}: use the "
                            f"checkpoint of that backbone ({RELEASE_URL}{self.spec.filename})"
                        )
                    self._net = net
        return self._net

    def upsample(self, features: np.ndarray, guide: np.ndarray, factor: int) -> np.ndarray:
        """``(F, h * factor, w * factor)`` float32 features from ``(F, h, w)`` and the guide."""
        import torch

        features, guide = self._validate(features, guide, factor)
        net = self.network
        n, h, w = features.shape
        out = np.empty((n, h * factor, w * factor), dtype=np.float32)
        with torch.inference_mode():
            for (r0, r1, c0, c1), (i0, i1, j0, j1) in windows(h, w, self.window):
                image = torch.from_numpy(
                    np.ascontiguousarray(
                        guide[:, r0 * factor : r1 * factor, c0 * factor : c1 * factor]
                    )
                )
                coarse = torch.from_numpy(np.ascontiguousarray(features[:, r0:r1, c0:c1]))
                up = net(image[None].to(self._device), coarse[None].to(self._device))[0]
                core = up[
                    :,
                    (i0 - r0) * factor : (i1 - r0) * factor,
                    (j0 - c0) * factor : (j1 - c0) * factor,
                ]
                out[:, i0 * factor : i1 * factor, j0 * factor : j1 * factor] = (
                    core.float().cpu().numpy()
                )
        return out

    def _validate(
        self, features: np.ndarray, guide: np.ndarray, factor: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise ValueError(f"jafar: factor must be a positive integer, got {factor!r}")
        features = np.asarray(features)
        guide = np.asarray(guide)
        if features.ndim != 3 or guide.ndim != 3:
            raise ValueError(
                f"jafar: features must be (F, h, w) and guide (C, H, W); got shapes "
                f"{features.shape} and {guide.shape}"
            )
        n, h, w = features.shape
        if n != self.n_features:
            raise ValueError(
                f"jafar (backbone {self.backbone!r}) upsamples {self.n_features} features per "
                f"patch (the {self.spec.extractor} extractor), got {n}; choose the backbone "
                f"of your extractor: backbone= one of {', '.join(CHOICES)}"
            )
        if guide.shape[1:] != (h * factor, w * factor):
            raise ValueError(
                f"jafar: guide of shape {guide.shape[1:]} does not cover ({h}, {w}) patches "
                f"of {factor} pixels (expected {(h * factor, w * factor)})"
            )
        if guide.shape[0] == 1:
            guide = np.repeat(guide, 3, axis=0)
        elif guide.shape[0] != 3:
            raise ValueError(f"jafar: the guide must have 1 or 3 channels, got {guide.shape[0]}")
        for label, arr in (("features", features), ("guide", guide)):
            if not np.isfinite(arr).all():
                raise ValueError(f"jafar: {label} contain NaN or infinite values")
        return (
            np.ascontiguousarray(features, dtype=np.float32),
            np.ascontiguousarray(guide, dtype=np.float32),
        )

    def context(self, factor: int) -> int:
        """4 coarse positions of context at any pyramid level (at least ``padding``)."""
        return max(int(self.padding), CONTEXT_PATCHES * int(factor))

    def get_options(self) -> dict[str, Any]:
        return {"weights": self.weights, "backbone": self.backbone, "window": self.window or 0}


def windows(
    h: int, w: int, window: int | None
) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """Attention windows over an ``h x w`` coarse grid: ``(context box, core box)`` pairs.

    The cores (at most ``window`` positions per side, balanced) tile the grid; each
    context adds up to :data:`CONTEXT_PATCHES` positions around its core.  ``None``: one window, the grid.
    """
    if window is None or (h <= window and w <= window):
        return [((0, h, 0, w), (0, h, 0, w))]
    boxes = []
    for i0, i1 in _split(h, window):
        for j0, j1 in _split(w, window):
            context = (
                max(0, i0 - CONTEXT_PATCHES),
                min(h, i1 + CONTEXT_PATCHES),
                max(0, j0 - CONTEXT_PATCHES),
                min(w, j1 + CONTEXT_PATCHES),
            )
            boxes.append((context, (i0, i1, j0, j1)))
    return boxes


def _split(n: int, window: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of at most ``window`` covering ``range(n)``, sizes balanced."""
    parts = -(-n // window)
    edges = [round(k * n / parts) for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


@lru_cache(maxsize=2)
def build_network(backbone: str, source: str, stamp: int, device: str = "cpu") -> Any:
    """A ``Jafar`` module in eval mode with the weights of ``source`` (a file, or ``"random"``).

    Random weights come from a fixed seed (a saved model that used them rebuilds the same
    network); a file's tensor shapes give the architecture, then it is loaded strictly.
    """
    import torch

    from .jafar import Jafar
    from .jafar_weights import load_strict, read_checkpoint

    if source == RANDOM:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = Jafar(v_dim=BACKBONES[backbone].n_features)
        return net.to(device).eval()
    state = read_checkpoint(source)
    net = Jafar(**architecture(state, source))
    load_strict(net, state, source)
    return net.to(device).eval()
