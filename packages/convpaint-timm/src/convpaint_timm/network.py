"""timm ``features_only`` trunks truncated to the chosen stages, their halo and random init.

The trunk is built on the meta device (no memory, no init), cut after the deepest
chosen stage, and only then given tensors: from a checkpoint (only the needed
ones are read) or from a seeded random initialisation.
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


@dataclass(frozen=True)
class Architecture:
    """A timm CNN: its name and the stages ``features_only`` can return."""

    timm_name: str
    channels: tuple[int, ...]  # per out index
    reductions: tuple[int, ...]  # stride of each out index

    def validate_layers(self, layers: int | Iterable[int]) -> list[int]:
        """Sorted out indices; ValueError naming the valid ones otherwise."""
        valid = ", ".join(map(str, range(len(self.channels))))
        if isinstance(layers, (str, bytes)):
            raise ValueError(f"layers must be integers, got {layers!r} (valid stages: {valid})")
        items = [layers] if not isinstance(layers, Iterable) else list(layers)
        if not items:
            raise ValueError(f"layers is empty; choose among the stages {valid}")
        result: list[int] = []
        for item in items:
            if isinstance(item, bool) or not hasattr(item, "__index__"):
                raise ValueError(f"layer {item!r} is not an integer (valid stages: {valid})")
            index = int(item)
            if not 0 <= index < len(self.channels):
                raise ValueError(
                    f"layer {index} is not a feature stage of {self.timm_name}; "
                    f"valid stages: {valid}"
                )
            if index in result:
                raise ValueError(f"layer {index} is given twice")
            result.append(index)
        return sorted(result)


EFFICIENTNET_B0 = Architecture("efficientnet_b0", (16, 24, 40, 112, 320), (2, 4, 8, 16, 32))
CONVNEXT_TINY = Architecture("convnext_tiny", (96, 192, 384, 768), (4, 8, 16, 32))


def build_trunk(arch: Architecture, layers: Sequence[int]) -> nn.Module:
    """``timm.create_model(..., features_only=True, out_indices=layers)`` on the meta device,
    cut after the deepest of ``layers`` (timm's EfficientNet feature class builds every block).
    """
    import timm
    import torch

    with torch.device("meta"):
        net = timm.create_model(
            arch.timm_name, pretrained=False, features_only=True, out_indices=tuple(layers)
        )
    stage_out = getattr(net, "_stage_out_idx", None)
    if stage_out is not None:  # EfficientNetFeatures: feature i+1 follows blocks[i]
        net.blocks = net.blocks[: max(stage_out)]  # type: ignore[index]
    return net.eval()


def stage_reaches(trunk: nn.Module) -> list[tuple[int, int, int]]:
    """``(lo, hi, stride)`` per returned stage: its output pixel j reads input pixels
    ``stride * j + lo .. stride * j + hi`` (zero padding beyond the borders).

    Walks the Conv2d layers in module order, which is their order along the main
    path in these sequential CNNs (residual shortcuts reach less; 1x1 convs nothing).
    Squeeze-and-excitation (EfficientNet) pools globally and is not counted.
    """
    from torch import nn

    stages = [str(m) for m in trunk.feature_info.module_name()]  # type: ignore[union-attr, operator]
    reach = (0, 0, 1)
    after: dict[str, tuple[int, int, int]] = {}
    for name, module in trunk.named_modules():
        if not isinstance(module, nn.Conv2d):
            continue
        if module.kernel_size != (1, 1) or module.stride != (1, 1):
            if isinstance(module.padding, str):
                raise ValueError(f"{name} uses {module.padding!r} padding: no static reach")
            k, s = module.kernel_size[0], module.stride[0]
            p, d = module.padding[0], module.dilation[0]
            lo, hi, stride = reach
            reach = (lo - stride * p, hi + stride * (d * (k - 1) - p), stride * s)
        for stage in stages:  # FeatureListNet flattens "stages.1" to "stages_1"
            if name.startswith((stage + ".", stage.replace(".", "_", 1) + ".")):
                after[stage] = reach
    missing = [s for s in stages if s not in after]
    if missing:
        raise RuntimeError(f"no convolution found in stages {missing} of the trunk")
    return [after[s] for s in stages]


def halo(reaches: Iterable[tuple[int, int, int]]) -> int:
    """Input pixels around an output pixel that its upsampled features depend on.

    ``reaches``: :func:`stage_reaches` of the chosen stages. Includes the bilinear
    upsampling (align_corners=False, factor s): full-resolution pixel y reads stride-s
    pixels floor((y + .5)/s - .5) and the next one. Rounded up to a multiple of the
    largest stride, so that tile origins stay on the stride grid.
    """
    return bilinear_halo(reaches)


def random_init(trunk: nn.Module, seed: int = 0) -> None:
    """Seeded init of every tensor of a materialised trunk (``to_empty``); tests only.

    Convs and linear layers: Kaiming normal (fan_in), zero bias; norms: weight 1,
    bias 0, running statistics 0/1; ConvNeXt layer scales ``gamma``: 1 (timm's 1e-6
    would make every block nearly the identity). Raises if any tensor is left unset.
    """
    import torch
    from torch import nn

    generator = torch.Generator().manual_seed(seed)
    done: set[int] = set()

    def fill(tensor: torch.Tensor | None, value: float) -> None:
        if tensor is not None:
            tensor.fill_(value)
            done.add(id(tensor))

    with torch.no_grad():
        for module in trunk.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", generator=generator)
                done.add(id(module.weight))
                fill(module.bias, 0.0)
            elif isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)):
                fill(module.weight, 1.0)
                fill(module.bias, 0.0)
                if isinstance(module, nn.BatchNorm2d):
                    fill(module.running_mean, 0.0)
                    fill(module.running_var, 1.0)
                    fill(module.num_batches_tracked, 0)
        for name, param in trunk.named_parameters():
            if name.rsplit(".", 1)[-1] == "gamma":
                fill(param, 1.0)
    left = [n for n, t in (*trunk.named_parameters(), *trunk.named_buffers()) if id(t) not in done]
    if left:
        raise RuntimeError(f"random init left tensors unset: {', '.join(left[:5])}")
