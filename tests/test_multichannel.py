"""The paper's fig. S1: 4 channels whose 10 combinations are 10 classes."""

import itertools

import numpy as np
import pytest
from extractor_checks import require


@pytest.mark.parametrize("name", ["raw", "ilastik"])
def test_four_channels_ten_classes(name):
    require(name)
    import convpaint

    rng = np.random.default_rng(0)
    combos = [c for k in (1, 2) for c in itertools.combinations(range(4), k)]  # 4 + 6 = 10
    assert len(combos) == 10
    size = 24
    truth = np.zeros((2 * size, 5 * size), np.uint8)
    image = np.zeros((4, 2 * size, 5 * size), np.float32)
    for k, combo in enumerate(combos):
        r, c = divmod(k, 5)
        sl = (slice(r * size, (r + 1) * size), slice(c * size, (c + 1) * size))
        truth[sl] = k + 1
        for ch in combo:
            image[(ch, *sl)] = 1.0
    image += rng.normal(0, 0.1, image.shape).astype(np.float32)
    ann = np.zeros_like(truth)
    for k in range(10):  # one short stroke in the middle of each square
        r, c = divmod(k, 5)
        ann[r * size + size // 2, c * size + 8 : c * size + 16] = k + 1
    opts = {"sigmas": [0.3, 0.7, 1.0]} if name == "ilastik" else {}
    model = convpaint.ConvpaintModel(name, **opts).train(image, ann, axes="CYX")
    labels = model.segment(image, axes="CYX")
    unlabelled = ann == 0
    accuracy = np.mean(labels[unlabelled] == truth[unlabelled])
    assert accuracy >= 0.95, accuracy
