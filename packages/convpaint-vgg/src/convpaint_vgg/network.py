"""The truncated VGG16 trunk: layer geometry and the ``nn.Sequential`` builder.

Module indices follow ``torchvision.models.vgg16().features`` exactly, so the
state-dict keys of the truncated trunk (``"0.weight"``, ``"5.bias"``, ...) are
those of the ImageNet checkpoint without the ``"features."`` prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from convpaint.torch_ops import bilinear_halo
from convpaint.torch_ops import to_planar as to_planar  # re-exported
from convpaint.torch_ops import upsample_bilinear as upsample_bilinear  # re-exported

if TYPE_CHECKING:
    import torch
    from torch import nn

# torchvision's configuration "D" (VGG16): channels of a 3x3 conv (+ ReLU), "M" = 2x2 max-pool
VGG16_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
    512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip


@dataclass(frozen=True)
class ConvLayer:
    """A Conv2d of ``vgg16().features`` and where it sits."""

    index: int  # module index in ``features``
    in_channels: int
    out_channels: int
    n_pools: int  # max-pools before it: its output has stride 2**n_pools


def _modules() -> list[tuple[str, int, int]]:
    """(kind, in_channels, out_channels) for every module of ``features``."""
    out: list[tuple[str, int, int]] = []
    channels = 3
    for item in VGG16_CONFIG:
        if item == "M":
            out.append(("pool", channels, channels))
        else:
            out.append(("conv", channels, int(item)))
            out.append(("relu", int(item), int(item)))
            channels = int(item)
    return out


def conv_layers() -> dict[int, ConvLayer]:
    """The Conv2d layers of ``vgg16().features`` keyed by module index."""
    layers: dict[int, ConvLayer] = {}
    pools = 0
    for index, (kind, c_in, c_out) in enumerate(_modules()):
        if kind == "pool":
            pools += 1
        elif kind == "conv":
            layers[index] = ConvLayer(index, c_in, c_out, pools)
    return layers


CONV_LAYERS = conv_layers()


def validate_layers(layers: int | Iterable[int]) -> list[int]:
    """Sorted conv-layer indices; ValueError naming the valid ones otherwise."""
    valid = ", ".join(map(str, CONV_LAYERS))
    if isinstance(layers, (str, bytes)):
        raise ValueError(f"layers must be integers, got {layers!r} (valid conv layers: {valid})")
    items = [layers] if not isinstance(layers, Iterable) else list(layers)
    if not items:
        raise ValueError(f"layers is empty; choose among the conv layers {valid}")
    result: list[int] = []
    for item in items:
        if isinstance(item, bool) or not hasattr(item, "__index__"):
            raise ValueError(f"layer {item!r} is not an integer (valid conv layers: {valid})")
        index = int(item)
        if index not in CONV_LAYERS:
            raise ValueError(
                f"layer {index} is not a Conv2d of vgg16().features; valid conv layers: {valid}"
            )
        if index in result:
            raise ValueError(f"layer {index} is given twice")
        result.append(index)
    return sorted(result)


def input_reach(layer: int) -> tuple[int, int]:
    """Input offsets ``(lo, hi)`` of the receptive field of output pixel 0 of ``layer``.

    Output pixel ``j`` (at stride ``2**n_pools``) depends on input pixels
    ``stride * j + lo`` .. ``stride * j + hi``, with zero padding beyond the borders.
    """
    lo, hi, stride = 0, 0, 1
    for kind, _, _ in _modules()[: layer + 1]:
        if kind == "conv":  # 3x3, padding 1: pixel j reads j-1 .. j+1
            lo, hi = lo - stride, hi + stride
        elif kind == "pool":  # 2x2, stride 2: pixel j reads 2j and 2j+1
            hi, stride = hi + stride, stride * 2
    return lo, hi


def halo(layers: Sequence[int]) -> int:
    """Input pixels around an output pixel that its features of ``layers`` depend on.

    Includes the bilinear upsampling (align_corners=False, factor s = 2**n_pools):
    full-resolution pixel y reads stride-s pixels floor((y + .5)/s - .5) and the next one.
    Rounded up to a multiple of the largest stride so that halo-shifted tile
    origins stay on the pooling grid.
    """
    return bilinear_halo((*input_reach(i), 2 ** CONV_LAYERS[i].n_pools) for i in layers)


def build_trunk(last_layer: int, device: str | torch.device = "cpu") -> nn.Sequential:
    """``vgg16().features[:last_layer + 1]`` with uninitialised (or meta) parameters."""
    from torch import nn

    modules: list[nn.Module] = []
    for kind, c_in, c_out in _modules()[: last_layer + 1]:
        if kind == "conv":
            modules.append(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, device=device))
        elif kind == "relu":
            modules.append(nn.ReLU(inplace=True))
        else:
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*modules).eval()


def random_init(trunk: nn.Sequential, seed: int = 0) -> None:
    """torchvision's VGG initialisation (Kaiming normal, zero bias), seeded."""
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in trunk:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(
                    module.weight, mode="fan_out", nonlinearity="relu", generator=generator
                )
                if module.bias is not None:
                    nn.init.zeros_(module.bias)


def n_parameters(last_layer: int) -> int:
    """Parameters of ``features[:last_layer + 1]`` (conv weights and biases)."""
    return sum(
        c.out_channels * (c.in_channels * 9 + 1)
        for c in CONV_LAYERS.values()
        if c.index <= last_layer
    )
