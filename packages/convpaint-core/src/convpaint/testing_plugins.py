"""Plugins in tests without installing a package: a NumPy patch extractor, plugin modules,
and classes registered for the length of a ``with`` block.

::

    from convpaint.testing import NearestPatches, PatchStats, registered

    def test_my_upsampler():
        with registered(extractors=[PatchStats], upsamplers=[NearestPatches]):
            model = convpaint.ConvpaintModel("patch4", upsampler="nearest-test")
            ...

:class:`PatchStats` returns one feature vector per 4 x 4 patch, as a ViT does, in a few
microseconds and without torch: a stand-in for ``dinov2`` when testing upsamplers or code
that treats patch features specially.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator, Sequence

import numpy as np

from . import registry, upsampler_registry
from .extractor import FeatureExtractor
from .hookspecs import hookimpl
from .options import Option
from .upsampler import FeatureUpsampler

TEST_PACKAGE = "convpaint-tests"  # the package name the registered classes are shown under


class PatchStats(FeatureExtractor):
    """Mean, max and min of each 4 x 4 patch of every channel (``3 C`` features per patch)."""

    name = "patch4"
    description = "mean, max and min of each 4x4 patch (tests; NumPy, no torch)"
    patch_size = 4
    padding = 0

    def extract(self, plane: np.ndarray) -> np.ndarray:
        c, h, w = plane.shape
        p = self.patch_size
        blocks = plane.reshape(c, h // p, p, w // p, p)
        stats = [blocks.mean(axis=(2, 4)), blocks.max(axis=(2, 4)), blocks.min(axis=(2, 4))]
        return np.concatenate(stats).astype(np.float32)


class NearestPatches(FeatureUpsampler):
    """Each patch's features repeated over its pixels, times ``gain``: the simplest
    upsampler, with an options schema."""

    name = "nearest-test"
    description = "nearest-neighbour patch features (tests)"
    options = (Option("gain", "int", 1, "feature multiplier", minimum=1, maximum=3),)

    def __init__(self, gain: int = 1) -> None:
        self.gain = int(gain)

    def upsample(self, features: np.ndarray, guide: np.ndarray, factor: int) -> np.ndarray:
        return self.gain * features.repeat(factor, axis=1).repeat(factor, axis=2)

    def get_options(self) -> dict[str, int]:
        return {"gain": self.gain}


def plugin_module(hook: str, classes: Sequence[type], name: str | None = None) -> types.ModuleType:
    """A module whose ``hook()`` (``"convpaint_extractors"`` or ``"convpaint_upsamplers"``)
    returns ``classes``: what an entry point would load."""
    module = types.ModuleType(name or f"convpaint_test_{hook}")
    items = list(classes)

    def impl() -> list[type]:
        return items

    impl.__name__ = hook
    setattr(module, hook, hookimpl(impl))
    return module


@contextlib.contextmanager
def registered(
    extractors: Sequence[type] = (),
    upsamplers: Sequence[type] = (),
    package: str = TEST_PACKAGE,
) -> Iterator[None]:
    """Within the block, the installed plugins plus ``extractors`` and ``upsamplers`` (fresh
    registries); the registries of before are back afterwards, also after an error."""
    saved = registry._REGISTRY, upsampler_registry._REGISTRY
    try:
        if extractors:
            registry._REGISTRY = None
            module = plugin_module("convpaint_extractors", extractors)
            registry.get_registry().register(module, package)
        if upsamplers:
            upsampler_registry._REGISTRY = None
            module = plugin_module("convpaint_upsamplers", upsamplers)
            upsampler_registry.get_upsampler_registry().register(module, package)
        yield
    finally:
        registry._REGISTRY, upsampler_registry._REGISTRY = saved
