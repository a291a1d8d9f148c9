from __future__ import annotations

import warnings

import numpy as np
import pytest


@pytest.fixture
def hub_dir(tmp_path):
    """A private, empty torch hub cache for the duration of a test."""
    import torch.hub

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(old)


def random_extractor(**options):
    from convpaint_vgg import VGG16Features

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return VGG16Features(weights="random", **options)


def random_plane(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((3, height, width)).astype(np.float32)
