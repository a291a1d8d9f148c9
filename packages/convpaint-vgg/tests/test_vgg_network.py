from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from convpaint_vgg.network import (
    CONV_LAYERS,
    build_trunk,
    halo,
    n_parameters,
    to_planar,
    upsample_bilinear,
    validate_layers,
)


def test_trunk_matches_torchvision_features():
    import torchvision

    with torch.device("meta"):
        reference = torchvision.models.vgg16().features
    trunk = build_trunk(28, device="meta")
    assert len(trunk) == 29
    for ours, theirs in zip(trunk, reference[:29], strict=True):
        assert repr(ours) == repr(theirs)
    want = {k: v.shape for k, v in reference[:29].state_dict().items()}
    assert {k: v.shape for k, v in trunk.state_dict().items()} == want
    conv_indices = [i for i, m in enumerate(reference) if isinstance(m, torch.nn.Conv2d)]
    assert list(CONV_LAYERS) == conv_indices
    assert n_parameters(28) == sum(p.numel() for p in reference[:29].parameters())


def test_parameter_counts():
    assert n_parameters(0) == 1792
    assert n_parameters(5) == 1792 + 36928 + 73856
    assert sum(p.numel() for p in build_trunk(5).parameters()) == n_parameters(5)


def test_truncated_trunk_builds_only_needed_layers():
    assert len(build_trunk(0)) == 1
    assert [type(m).__name__ for m in build_trunk(5)] == [
        "Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d", "Conv2d",
    ]  # fmt: skip


@pytest.mark.parametrize("bad", [1, 3, 4, 29, 30, -1, 100])
def test_bad_layer_lists_valid_conv_indices(bad):
    with pytest.raises(ValueError, match=r"valid conv layers: 0, 2, 5, 7, 10, .*, 28"):
        validate_layers([0, bad])


@pytest.mark.parametrize("bad", [[], "0", [0.0], [True], [0, 0]])
def test_malformed_layers(bad):
    with pytest.raises(ValueError):
        validate_layers(bad)


def test_layers_sorted_and_scalar_accepted():
    assert validate_layers([5, 0, 2]) == [0, 2, 5]
    assert validate_layers(7) == [7]


def test_halo_values():
    assert halo([0]) == 1
    assert halo([2]) == 2
    assert halo([0, 2, 5]) == 6
    assert halo([28]) == 128  # receptive field 196 plus bilinear reach, rounded to 16
    for layers in ([0], [5], [10], [17], [28]):
        assert halo(layers) % 2 ** CONV_LAYERS[layers[-1]].n_pools == 0


@pytest.mark.parametrize("factor", [2, 4, 16])
def test_upsample_matches_torch_interpolate(factor):
    x = torch.randn(5, 7, 9, generator=torch.Generator().manual_seed(factor))
    ours = upsample_bilinear(x, factor)
    theirs = F.interpolate(x[None], scale_factor=factor, mode="bilinear", align_corners=False)[0]
    assert ours.shape == (5, 7 * factor, 9 * factor)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)


def test_upsample_is_shift_exact():
    x = torch.randn(3, 40, 40, generator=torch.Generator().manual_seed(1))
    full = upsample_bilinear(x, 4)
    part = upsample_bilinear(x[:, 5:31, 7:29].contiguous(), 4)
    assert torch.equal(full[:, 5 * 4 + 4 : 31 * 4 - 4, 7 * 4 + 4 : 29 * 4 - 4], part[:, 4:-4, 4:-4])


def test_to_planar():
    x = torch.randn(1, 6, 5, 7)
    assert torch.equal(to_planar(x.contiguous(memory_format=torch.channels_last)), x[0])
    assert to_planar(x.contiguous(memory_format=torch.channels_last)).is_contiguous()
    assert torch.equal(to_planar(x), x[0])
