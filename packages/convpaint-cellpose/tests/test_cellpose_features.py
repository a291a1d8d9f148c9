import numpy as np
import pytest
import torch
import torch.nn.functional as F

from convpaint.pyramid import upsample
from convpaint_cellpose import network
from convpaint_cellpose.extractor import normalize99


def test_forward_is_cellposes(random_cellpose):
    """``network.forward`` computes CPSAM.forward (checked with 2 of its 24 blocks, for speed)."""
    net = random_cellpose.network
    blocks = net.encoder.blocks
    x = torch.from_numpy(np.random.default_rng(0).random((2, 3, 256, 256), np.float32))
    try:
        net.encoder.blocks = torch.nn.ModuleList(blocks[:2])
        with torch.inference_mode():
            expected = net(x)[0]
        _, maps = network.forward(net, x)
    finally:
        net.encoder.blocks = blocks
    torch.testing.assert_close(maps, expected, rtol=0, atol=0)


def test_features_on_an_odd_gray_plane(random_cellpose):
    """One window through the full network: input preparation, neck and maps, cropping."""
    net = random_cellpose.network
    gray = np.random.default_rng(1).gamma(2.0, size=(1, 100, 140)).astype(np.float32)
    seen = {}
    hooks = [
        net.encoder.blocks[0].register_forward_pre_hook(lambda m, a: seen.update(tokens=a[0])),
        net.encoder.neck.register_forward_hook(lambda m, a, o: seen.update(neck=o)),
        net.out.register_forward_hook(lambda m, a, o: seen.update(out=o)),
    ]
    try:
        feats = random_cellpose.extract(np.repeat(gray, 3, axis=0))  # the core replicates gray
    finally:
        for hook in hooks:
            hook.remove()
    assert feats.shape == (259, 100, 140) and feats.dtype == np.float32

    # cellpose's input: 1st-99th percentile normalised, zero-padded to 256, one channel
    window = torch.zeros((1, 1, 256, 256))
    window[0, :, :100, :140] = torch.from_numpy(normalize99(gray))
    proj = net.encoder.patch_embed.proj
    tokens = F.conv2d(window, proj.weight[:, :1], proj.bias, stride=8).permute(0, 2, 3, 1)
    torch.testing.assert_close(seen["tokens"], tokens + net.encoder.pos_embed)

    maps = F.conv_transpose2d(seen["out"], net.W2, stride=8)[0, :, :100, :140].numpy()
    np.testing.assert_allclose(feats[256:], maps, rtol=1e-5, atol=1e-6)
    neck = upsample(seen["neck"][0].numpy(), 8)[:, :100, :140]
    np.testing.assert_allclose(feats[:256], neck, rtol=1e-5, atol=1e-6)
    assert feats[:256].std() > 0 and feats[256:].std() > 0


@pytest.mark.slow
def test_bfloat16_is_close_to_float32(random_cellpose):
    x = torch.from_numpy(normalize99(np.random.default_rng(2).random((3, 256, 256), np.float32)))
    neck32, maps32 = network.forward(random_cellpose.network, x[None], "float32")
    neck16, maps16 = network.forward(random_cellpose.network, x[None], "bfloat16")
    rel = lambda a, b: float((a - b).norm() / b.norm())  # noqa: E731
    assert rel(neck16, neck32) < 0.05 and rel(maps16, maps32) < 0.05


@pytest.mark.slow
def test_multi_window_plane(random_cellpose):
    plane = np.random.default_rng(3).random((3, 264, 320), np.float32)
    feats = random_cellpose.extract(plane)
    assert feats.shape == (259, 264, 320) and np.isfinite(feats).all()
