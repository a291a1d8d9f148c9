"""Features of interior pixels must not depend on the tiling (bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest
from ilastik_testutils import smooth_noise

from convpaint_ilastik import IlastikFilters, fast, opencv

BACKENDS = (
    ["auto", "scipy"]
    + (["fastfilters"] if fast.available() else [])
    + (["opencv"] if opencv.available() else [])
)


def _crops(shape: tuple[int, ...], h: int, n: int, seed: int):
    """Random interior boxes (start, stop) whose halo ``h`` fits in ``shape``."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        box = []
        for size in shape:
            a = int(rng.integers(h, size - h - 1))
            b = int(rng.integers(a + 1, min(size - h, a + 70) + 1))
            box.append((a, b))
        yield box


@pytest.mark.parametrize("backend", BACKENDS)
def test_tiled_equals_untiled_2d(backend: str) -> None:
    ex = IlastikFilters(backend=backend)
    h = ex.padding
    image = smooth_noise((1, 2 * h + 90, 2 * h + 130), seed=3)
    full = ex.extract(image)
    n = 2 if backend == "scipy" else 5
    for (y0, y1), (x0, x1) in _crops(image.shape[1:], h, n, seed=4):
        tile = ex.extract(image[:, y0 - h : y1 + h, x0 - h : x1 + h])
        assert np.array_equal(tile[:, h:-h, h:-h], full[:, y0:y1, x0:x1]), (y0, y1, x0, x1)


def test_tiled_equals_untiled_3d() -> None:
    ex = IlastikFilters(sigmas=[0.7, 1.6])
    h = ex.padding
    vol = smooth_noise((1, 2 * h + 8, 2 * h + 20, 2 * h + 24), seed=5)
    full = ex.extract_volume(vol)
    for (z0, z1), (y0, y1), (x0, x1) in _crops(vol.shape[1:], h, 3, seed=6):
        tile = ex.extract_volume(vol[:, z0 - h : z1 + h, y0 - h : y1 + h, x0 - h : x1 + h])
        assert np.array_equal(tile[:, h:-h, h:-h, h:-h], full[:, z0:z1, y0:y1, x0:x1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_padding_is_tight(backend: str) -> None:
    """An impulse changes features exactly up to ``padding`` pixels away, not beyond."""
    ex = IlastikFilters(backend=backend)
    h = ex.padding
    size = 2 * h + 21
    image = np.zeros((1, size, size), np.float32)
    c = size // 2
    image[0, c, c] = 1.0
    out = np.abs(ex.extract(image))
    assert np.all(out[:, c, c - h - 1] == 0) and np.all(out[:, c - h - 1, c] == 0)
    assert out[:, c, c - h].max() > 0 and out[:, c - h, c].max() > 0
    ring = np.ones((size, size), bool)
    ring[c - h : c + h + 1, c - h : c + h + 1] = False
    assert np.all(out[:, ring] == 0)
