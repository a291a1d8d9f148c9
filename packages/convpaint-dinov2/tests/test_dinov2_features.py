import numpy as np
import pytest
from dinov2_testutils import random_extractor

from convpaint_dinov2 import UNI, DinoV2
from convpaint_dinov2.vit import build_network


@pytest.mark.parametrize("shape", [(98, 140), (266, 252), (14, 14)])
def test_dinov2_patch_grid_shapes(shape):
    ex = random_extractor(DinoV2)
    plane = np.random.default_rng(0).normal(size=(3, *shape)).astype(np.float32)
    feats = ex.extract(plane)
    assert feats.shape == (384, shape[0] // 14, shape[1] // 14)
    assert feats.dtype == np.float32 and np.isfinite(feats).all()
    assert feats.std() > 0


def test_patch_tokens_follow_the_image():
    """Tokens are returned in raster order: a bright patch changes its own token most."""
    ex = random_extractor(DinoV2)
    plane = np.zeros((3, 70, 84), np.float32)
    base = ex.extract(plane)
    plane[:, 28:42, 56:70] = 3.0  # patch (2, 4)
    diff = np.abs(ex.extract(plane) - base).sum(axis=0)
    assert np.unravel_index(diff.argmax(), diff.shape) == (2, 4)


def test_random_weights_are_reproducible():
    plane = np.random.default_rng(1).normal(size=(3, 56, 56)).astype(np.float32)
    first = random_extractor(DinoV2).extract(plane)
    build_network.cache_clear()
    second = random_extractor(DinoV2).extract(plane)
    np.testing.assert_array_equal(first, second)


def test_uni_architecture_and_shapes():
    ex = random_extractor(UNI)
    net = ex.network
    assert len(net.blocks) == 24 and net.embed_dim == 1024 and net.num_prefix_tokens == 1
    assert hasattr(net.blocks[0], "ls1")  # init_values -> LayerScale, as in UNI's config
    feats = ex.extract(np.random.default_rng(2).normal(size=(3, 48, 80)).astype(np.float32))
    assert feats.shape == (1024, 3, 5)
