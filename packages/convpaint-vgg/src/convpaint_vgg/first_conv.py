"""VGG16's first convolution on the CPU as one matrix product (im2col + sgemm).

``conv1_1`` has 3 input channels: oneDNN runs it at ~15 GFLOP/s (overhead-bound), and its
channels-last output then needs a transposed copy to become planar.  Laid out as
(64, 27) @ (27, H*W), the same convolution is one sgemm (``torch.mm``) that writes planar
(64, H, W) features.  Every output pixel is the same 27-term dot product in the same
order wherever it sits, so a tile equals the crop of the whole plane bit for bit, and
any subset of pixels can be computed alone with the same numbers (tested); against
torch's ``conv2d`` the values differ by float rounding only (~1e-7 relative).

Not wired into :class:`~convpaint_vgg.VGG16Features` (docs/benchmarks.md, "Colour
images"): one 512² tile's features drop from ~0.32 s to ~0.19 s on one thread, but with
two tile workers the whole segment was not faster.  It is the kernel for computing
layer-0 features only at the pixels coarse to fine classifies.
"""

from __future__ import annotations

import numpy as np

CHUNK_PIXELS = 1 << 18  # output pixels per product: the im2col buffer stays <= 28 MB


def conv3x3(
    plane: np.ndarray, weight: np.ndarray, bias: np.ndarray, chunk_pixels: int = CHUNK_PIXELS
) -> np.ndarray:
    """Zero-padded 3x3 convolution (cross-correlation, as ``nn.Conv2d(padding=1)``).

    ``plane`` (C, H, W) float32, ``weight`` (O, C, 3, 3), ``bias`` (O,) ->
    (O, H, W) float32, C-contiguous.  Rows are processed in chunks of at most
    ``chunk_pixels`` output pixels (same numbers for any chunking).
    """
    plane = np.asarray(plane, dtype=np.float32)
    if plane.ndim != 3:
        raise ValueError(f"conv3x3 takes a (C, H, W) plane, got shape {plane.shape}")
    channels, height, width = plane.shape
    n_out = weight.shape[0]
    if weight.shape != (n_out, channels, 3, 3) or bias.shape != (n_out,):
        raise ValueError(
            f"weight {weight.shape} / bias {bias.shape} do not fit a 3x3 conv of {channels} "
            "channels"
        )
    import torch

    matrix = np.ascontiguousarray(weight, dtype=np.float32).reshape(n_out, channels * 9)
    weights = torch.from_numpy(matrix)
    column = np.asarray(bias, dtype=np.float32)[:, None]
    padded = np.pad(plane, ((0, 0), (1, 1), (1, 1)))
    out = np.empty((n_out, height, width), np.float32)
    rows = max(1, min(height, chunk_pixels // max(1, width)))
    cols = np.empty((channels, 3, 3, rows, width), np.float32)
    for r0 in range(0, height, rows):
        k = min(rows, height - r0)
        block = cols[:, :, :, :k]
        for dy in range(3):
            for dx in range(3):
                block[:, dy, dx] = padded[:, r0 + dy : r0 + dy + k, dx : dx + width]
        dst = out[:, r0 : r0 + k].reshape(n_out, k * width)  # a view: rows are whole
        # torch's sgemm, on torch's intra-op threads like the convolutions: NumPy's OpenBLAS
        # threads spin after each call and starve the forest on the other tiles' threads
        torch.mm(
            weights,
            torch.from_numpy(block.reshape(channels * 9, k * width)),
            out=torch.from_numpy(dst),
        )
        dst += column
    return out
