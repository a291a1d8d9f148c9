import numpy as np
import pytest


@pytest.fixture
def blobs():
    """A 2-D image with bright disks on a dark noisy background, its truth and scribbles."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :120]
    truth = np.ones((96, 120), np.uint8)
    for cy, cx, r in [(25, 30, 12), (60, 80, 15), (70, 25, 10), (25, 95, 9)]:
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = 2
    image = np.where(truth == 2, 0.8, 0.2) + rng.normal(0, 0.05, truth.shape)
    scribbles = np.zeros_like(truth)
    scribbles[5, 5:110] = 1
    scribbles[45:50, 50] = 1
    scribbles[58:63, 75:85] = 2
    scribbles[25, 25:35] = 2
    return image.astype(np.float32), truth, scribbles
