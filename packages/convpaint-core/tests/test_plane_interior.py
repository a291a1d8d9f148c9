"""Plane features come from ``extract_interior``: only the pixels the core keeps.

The core hands every plane block with its halo and keeps the features of the interior;
an extractor may compute just those (``IlastikFilters`` skips its own border padding).
The numbers must equal the crop of ``extract``, whatever the pyramid level or patch size.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import convpaint
from convpaint import FeatureExtractor
from convpaint.features import FeaturePipeline
from convpaint.testing_plugins import PatchStats
from convpaint.volume import xy_crop


class Blur(FeatureExtractor):
    """The plane and its 5 x 5 mean: a receptive field of 2 px."""

    name = "blur-test"
    padding = 2

    def extract(self, plane: np.ndarray) -> np.ndarray:
        mean = ndimage.uniform_filter(plane, (1, 5, 5), mode="mirror")
        return np.concatenate([plane, mean]).astype(np.float32)


class RecordingBlur(Blur):
    """:class:`Blur` computing the interior only, recording the margins it is asked for."""

    def __init__(self) -> None:
        self.margins: list[tuple[int, int]] = []

    def extract_interior(self, plane: np.ndarray, margin: tuple[int, int]) -> np.ndarray:
        self.margins.append(tuple(margin))
        (my, mx), (_, h, w) = margin, plane.shape
        assert min(margin) >= self.padding  # the interior never sees the plane's border
        # the 5 x 5 mean of the interior, from the interior and 2 px of its context only
        window = plane[:, my - 2 : h - my + 2, mx - 2 : w - mx + 2]
        mean = ndimage.uniform_filter(window, (1, 5, 5), mode="mirror")[:, 2:-2, 2:-2]
        return np.concatenate([plane[:, my : h - my, mx : w - mx], mean]).astype(np.float32)


class RecordingPatches(PatchStats):
    """``patch4``, recording which of ``extract`` / ``extract_interior`` the core calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def extract(self, plane: np.ndarray) -> np.ndarray:
        self.calls.append("extract")
        return super().extract(plane)

    def extract_interior(self, plane: np.ndarray, margin: tuple[int, int]) -> np.ndarray:
        self.calls.append("interior")
        return super().extract_interior(plane, margin)


def _block(pipeline: FeaturePipeline, h: int = 37, w: int = 45, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((1, h + 2 * pipeline.halo, w + 2 * pipeline.halo), dtype=np.float32)


def test_default_interior_is_the_crop_of_extract() -> None:
    raw = convpaint.get_extractor("raw")
    plane = np.random.default_rng(0).random((2, 9, 11)).astype(np.float32)
    got = FeatureExtractor.extract_interior(raw, plane, (2, 3))
    np.testing.assert_array_equal(got, raw.extract(plane)[:, 2:-2, 3:-3])


@pytest.mark.parametrize("scalings", [(1,), (1, 2), (1, 2, 4)])
def test_pipeline_asks_for_the_interior_and_gets_the_same_features(scalings) -> None:
    recording = FeaturePipeline(RecordingBlur(), scalings)
    plain = FeaturePipeline(Blur(), scalings)
    block = _block(plain)
    got = recording.block_features(block)
    np.testing.assert_array_equal(got, plain.block_features(block))
    halo = recording.halo
    assert recording.extractor.margins == [(xy_crop(halo, s),) * 2 for s in scalings]


def test_patch_extractors_get_coarse_margins_and_upsamplers_whole_planes() -> None:
    patches = RecordingPatches()
    pipeline = FeaturePipeline(patches)
    pipeline.block_features(_block(pipeline, 40, 48))
    crop = xy_crop(pipeline.halo, 4)
    assert patches.calls == (["interior"] if crop else ["extract"])
    guided = RecordingPatches()
    up = FeaturePipeline(guided, upsampler=convpaint.get_upsampler("guided"))
    up.block_features(_block(up, 40, 48))
    assert guided.calls == ["extract"]  # the upsampler reads features beside the input


def test_interior_and_whole_give_the_same_model() -> None:
    """Trained on the interior-only features, a model segments as one on cropped features."""
    rng = np.random.default_rng(3)
    image = ndimage.gaussian_filter(rng.random((70, 90)), 2).astype(np.float32)
    scribbles = np.zeros(image.shape, np.uint8)
    scribbles[10, 5:80] = 1 + (image[10, 5:80] > np.median(image))
    scribbles[50, 5:80] = 1 + (image[50, 5:80] > np.median(image))
    models = [
        convpaint.ConvpaintModel(ex, tile_size=32, seed=0, progress=False, coarse_to_fine=1)
        for ex in (RecordingBlur(), Blur())
    ]
    probs = [m.train(image, scribbles).predict_proba(image) for m in models]
    np.testing.assert_array_equal(probs[0], probs[1])
    assert models[0].extractor.margins  # the interior path ran
