"""``convpaint.torch_ops``: planar copies, shift-exact bilinear upsampling, halos."""

import pytest

from convpaint.torch_ops import bilinear_halo, to_planar, upsample_bilinear

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_upsample_matches_interpolate_and_is_shift_exact(factor):
    import torch.nn.functional as F

    x = torch.randn(3, 9, 7, generator=torch.Generator().manual_seed(factor))
    up = upsample_bilinear(x, factor)
    ref = F.interpolate(x[None], scale_factor=factor, mode="bilinear", align_corners=False)[0]
    assert up.shape == (3, 9 * factor, 7 * factor)
    torch.testing.assert_close(up, ref, rtol=1e-5, atol=1e-6)
    shifted = upsample_bilinear(x[:, 2:], factor)  # interior rows are bit-identical
    assert torch.equal(shifted[:, factor:-factor], up[:, 3 * factor : -factor])


def test_to_planar_of_both_memory_formats():
    x = torch.randn(1, 5, 4, 6)
    for tensor in (x, x.contiguous(memory_format=torch.channels_last)):
        planar = to_planar(tensor)
        assert planar.is_contiguous() and torch.equal(planar, x[0])


def test_bilinear_halo():
    assert bilinear_halo([(-1, 1, 1)]) == 1
    # stride 2 reading -3..3: 3 * 2 // 2 - 1 + 3 = 5, rounded up to a multiple of 2
    assert bilinear_halo([(-1, 1, 1), (-3, 3, 2)]) == 6
    assert bilinear_halo([]) == 0
