"""JAFAR, the attention-based feature upsampler of Couairon et al. (arXiv 2506.11136).

Every output pixel is a convex combination of the backbone's coarse feature vectors: the
weights are a softmax over all coarse positions of the similarity between

- a *query* per output pixel, encoded from the full-resolution image (1x1 convolutions with
  residual blocks, 2-D rotary position encoding, a 3x3 convolution), and
- a *key* per coarse position, encoded from the same image encoding average-pooled to the
  coarse grid and modulated (SFT: a per-position scale and shift) by an encoding of the
  L2-normalised backbone features,

averaged over the attention heads.  The values are the backbone features themselves, so the
output lives in the backbone's feature space at any resolution.

Written from the paper's description.  The module and parameter names are those of the
authors' released checkpoints, so that ``load_state_dict(strict=True)`` accepts them (the
checkpoints also hold projections that the forward pass does not use: ``v_proj_weight``,
``out_proj`` and ``norm_v`` of the attention; they are kept so that loading stays strict).

This module imports torch: the plugin imports it only when a network is built.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

QK_DIM = 128
HEADS = 4
GROUPS = 8
ROPE_THETA = 100.0
#: bytes of attention scores computed at once (the output is produced in query chunks)
SCORE_BYTES = 4 * 2**20  # measured best on CPU: 4 MiB 16, 64 MiB 28 cpu-s/MPix (756 keys)


class ResBlock(nn.Module):
    """Pre-activation residual block: (GroupNorm, SiLU, 1x1 convolution) twice, plus the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(GROUPS, channels)
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.norm2 = nn.GroupNorm(GROUPS, channels)
        self.conv2 = nn.Conv2d(channels, channels, 1, bias=False)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.act(self.norm1(x)))
        return x + self.conv2(self.act(self.norm2(y)))


def encoder(in_dim: int, dim: int, kernel_size: int = 1) -> nn.Sequential:
    """A projection to ``dim`` channels followed by two residual blocks."""
    proj = nn.Conv2d(
        in_dim, dim, kernel_size, padding=kernel_size // 2, padding_mode="reflect", bias=False
    )
    return nn.Sequential(proj, ResBlock(dim), ResBlock(dim))


class SFTModulation(nn.Module):
    """Spatial feature transform: ``gamma(cond) * norm(x) + beta(cond)`` per position."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Conv2d(dim, dim, 1, bias=False)
        self.beta = nn.Conv2d(dim, dim, 1, bias=False)
        self.norm = nn.GroupNorm(GROUPS, dim, affine=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.gamma(cond) * self.norm(x) + self.beta(cond)


def rope_frequencies(dim: int, theta: float = ROPE_THETA) -> torch.Tensor:
    """Angular frequencies ``(2, dim)``: rows act on the first / second half of the channels."""
    base = theta ** torch.linspace(0.0, -1.0, dim // 4)
    base = torch.cat([base, base])
    freqs = torch.zeros(2, dim)
    freqs[0, : dim // 2] = base
    freqs[1, dim - dim // 2 :] = base
    return freqs * (2 * math.pi)


class RoPE(nn.Module):
    """2-D rotary position encoding over coordinates in [0, 1] across the map's rows and columns."""

    def __init__(self, dim: int, theta: float = ROPE_THETA) -> None:
        super().__init__()
        self.freqs = nn.Parameter(rope_frequencies(dim, theta))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        rows = torch.linspace(0.0, 1.0, h, device=x.device, dtype=self.freqs.dtype)
        cols = torch.linspace(0.0, 1.0, w, device=x.device, dtype=self.freqs.dtype)
        # angle = rows * freqs[0] + cols * freqs[1]; its cosine and sine by the addition
        # theorem from (C, h, 1) and (C, 1, w) factors: no transcendental per pixel
        a = (self.freqs[0][:, None] * rows[None, :])[:, :, None]
        b = (self.freqs[1][:, None] * cols[None, :])[:, None, :]
        cos = (a.cos() * b.cos() - a.sin() * b.sin()).to(x.dtype)
        sin = (a.sin() * b.cos() + a.cos() * b.sin()).to(x.dtype)
        first, second = x.chunk(2, dim=1)
        rotated = torch.cat((-second, first), dim=1)
        return x * cos + rotated * sin


class CrossAttention(nn.Module):
    """Head-averaged attention weights of queries over keys, applied to the raw values.

    ``attention`` is a :class:`torch.nn.MultiheadAttention` used for its query and key
    projections only (the layout of the checkpoints); the weights are computed here, in
    chunks of queries, so that memory stays bounded for any output size.
    """

    def __init__(self, dim: int, value_dim: int, heads: int) -> None:
        super().__init__()
        self.norm_q = nn.RMSNorm(dim)
        self.norm_k = nn.RMSNorm(dim)
        self.norm_v = nn.RMSNorm(value_dim)  # in the checkpoints; the output does not use it
        self.attention = nn.MultiheadAttention(
            dim, heads, dropout=0.0, vdim=value_dim, batch_first=True
        )

    def _project(self, x: torch.Tensor, which: int) -> torch.Tensor:
        """Query (0) or key (1) projection split into heads: ``(B, heads, n, head_dim)``."""
        mha = self.attention
        dim = mha.embed_dim
        weight = mha.q_proj_weight if which == 0 else mha.k_proj_weight
        bias = (
            None if mha.in_proj_bias is None else mha.in_proj_bias[which * dim : (which + 1) * dim]
        )
        y = F.linear(x, weight, bias)
        b, n, _ = y.shape
        return y.view(b, n, mha.num_heads, mha.head_dim).transpose(1, 2)

    def weights(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """Attention weights ``(B, n, m)`` of queries ``(B, n, C)`` over keys ``(B, m, C)``."""
        q = self._project(self.norm_q(query), 0) * self.attention.head_dim**-0.5
        k = self._project(self.norm_k(key), 1)
        return torch.softmax(q @ k.transpose(-1, -2), dim=-1).mean(dim=1)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """``(B, n, F)``: the values ``(B, m, F)`` mixed by the attention weights."""
        b, n, _ = query.shape
        m = key.shape[1]
        k = self._project(self.norm_k(key), 1)
        scale = self.attention.head_dim**-0.5
        chunk = max(1, SCORE_BYTES // (4 * b * self.attention.num_heads * m))
        out = value.new_empty((b, n, value.shape[-1]))
        for start in range(0, n, chunk):
            q = self._project(self.norm_q(query[:, start : start + chunk]), 0) * scale
            attn = torch.softmax(q @ k.transpose(-1, -2), dim=-1).mean(dim=1)
            out[:, start : start + chunk] = attn @ value
        return out


class CrossAttentionBlock(nn.Module):
    """A 3x3 convolution of the query map, then :class:`CrossAttention` over flattened maps."""

    def __init__(self, dim: int, value_dim: int, heads: int) -> None:
        super().__init__()
        self.cross_attn = CrossAttention(dim, value_dim, heads)
        self.conv2d = nn.Conv2d(dim, dim, 3, stride=1, padding=1, bias=False)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``(B, F, H, W)`` from query ``(B, C, H, W)``, key ``(B, C, h, w)``, value ``(B, F, h, w)``."""
        b, _, h, w = q.shape
        q = self.conv2d(q).flatten(2).transpose(1, 2)
        k = k.flatten(2).transpose(1, 2)
        v = v.flatten(2).transpose(1, 2)
        out = self.cross_attn(q, k, v)
        return out.transpose(1, 2).reshape(b, -1, h, w)


class Jafar(nn.Module):
    """The JAFAR upsampler.

    Parameters
    ----------
    input_dim : int
        Image channels (3: RGB).
    qk_dim : int
        Width of queries and keys (128 in the released checkpoints).
    v_dim : int
        Features per coarse position of the backbone (384 for ViT-S).
    kernel_size : int
        Kernel of the image encoder's first convolution (1 in the released checkpoints).
    num_heads : int
        Attention heads (4).
    """

    def __init__(
        self,
        input_dim: int = 3,
        qk_dim: int = QK_DIM,
        v_dim: int = 384,
        kernel_size: int = 1,
        num_heads: int = HEADS,
    ) -> None:
        super().__init__()
        self.v_dim = v_dim
        self.image_encoder = encoder(input_dim, qk_dim, kernel_size)
        self.key_encoder = encoder(qk_dim, qk_dim)
        self.query_encoder = encoder(qk_dim, qk_dim)
        self.norm = nn.GroupNorm(GROUPS, qk_dim, affine=False)
        self.key_features_encoder = encoder(v_dim, qk_dim)
        self.cross_decode = CrossAttentionBlock(qk_dim, v_dim, num_heads)
        self.sft_key = SFTModulation(qk_dim)
        self.rope = RoPE(qk_dim)

    def forward(
        self,
        image: torch.Tensor,
        features: torch.Tensor,
        output_size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Features ``(B, v_dim, *output_size)`` from an image ``(B, C, H, W)`` and
        coarse features ``(B, v_dim, h, w)``; ``output_size`` defaults to ``(H, W)``."""
        if output_size is None:
            size = (int(image.shape[-2]), int(image.shape[-1]))
        else:
            size = (int(output_size[0]), int(output_size[1]))
        coarse = (int(features.shape[-2]), int(features.shape[-1]))
        encoded = self.rope(self.image_encoder(image))
        keys = F.adaptive_avg_pool2d(self.key_encoder(encoded), coarse)
        keys = self.sft_key(keys, self.key_features_encoder(F.normalize(features, dim=1)))
        queries = self.query_encoder(encoded)
        del encoded
        if tuple(queries.shape[-2:]) != size:
            queries = F.adaptive_avg_pool2d(queries, size)
        queries = self.norm(queries)
        return self.cross_decode(queries, keys, features)
