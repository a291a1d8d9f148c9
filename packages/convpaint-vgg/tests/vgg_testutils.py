"""Helpers shared by the convpaint-vgg tests."""

import warnings

import numpy as np


def random_extractor(**options):
    """A ``vgg16`` extractor with seeded random weights (its warning silenced)."""
    from convpaint_vgg import VGG16Features

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return VGG16Features(weights="random", **options)


def random_plane(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((3, height, width)).astype(np.float32)
