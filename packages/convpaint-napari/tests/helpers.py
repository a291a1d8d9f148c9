"""Small synthetic images and scribbles for the plugin tests."""

import numpy as np


def disk_image(shape=(64, 64), seed=0):
    """A bright disk on a dark background with noise; last two axes are Y, X."""
    rng = np.random.default_rng(seed)
    h, w = shape[-2:]
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) / 4) ** 2
    return (disk + rng.normal(0, 0.15, shape)).astype(np.float32)


def scribbles(shape=(64, 64), classes=(1, 2)):
    """Class ``classes[0]`` along the top rows, ``classes[1]`` across the centre."""
    h, w = shape[-2:]
    ann = np.zeros(shape[-2:], np.uint8)
    ann[2:4, 4 : w - 4] = classes[0]
    if len(classes) > 1:
        ann[h // 2 - 1 : h // 2 + 1, w // 2 - 6 : w // 2 + 6] = classes[1]
    return ann
