"""A complete third-party extractor: Sobel edges and a smoothed copy of each channel."""

import numpy as np
from scipy import ndimage

import convpaint


class SobelExtractor(convpaint.FeatureExtractor):
    name = "sobel"
    description = "Sobel gradients + Gaussian (third-party test plugin)"
    padding = 8  # 3x3 Sobel after a sigma-2 Gaussian truncated at 3 sigma: 1 + 6, rounded up

    def extract(self, plane: np.ndarray) -> np.ndarray:
        smooth = ndimage.gaussian_filter(plane[0], 2.0, truncate=3.0)
        return np.stack([smooth, ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1)])


@convpaint.hookimpl
def convpaint_extractors():
    return [SobelExtractor]
