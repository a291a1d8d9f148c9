"""A complete third-party extractor: Sobel edges and a smoothed copy of each channel."""

import numpy as np
from scipy import ndimage

import convpaint
from convpaint.options import Option


class SobelExtractor(convpaint.FeatureExtractor):
    name = "sobel"
    description = "Sobel gradients + Gaussian (third-party test plugin)"
    # declared once: validated by the base constructor (stored as self.sigma, ...), written
    # into model files by get_options(), shown by the CLI and the napari form
    options = (
        Option("sigma", "int", 2, "Gaussian sigma in pixels", minimum=1, maximum=4),
        Option("gradients", "bool", True, "add the two Sobel gradients"),
        Option("mode", "str", "reflect", "border handling", choices=("reflect", "nearest")),
    )

    @property
    def padding(self) -> int:  # 3x3 Sobel after a Gaussian truncated at 3 sigma, + 1
        return 2 + 3 * self.sigma

    @property
    def n_features(self) -> int:
        return 3 if self.gradients else 1

    def extract(self, plane: np.ndarray) -> np.ndarray:
        smooth = ndimage.gaussian_filter(plane[0], self.sigma, truncate=3.0, mode=self.mode)
        if not self.gradients:
            return smooth[None]
        return np.stack(
            [
                smooth,
                ndimage.sobel(smooth, 0, mode=self.mode),
                ndimage.sobel(smooth, 1, mode=self.mode),
            ]
        )


@convpaint.hookimpl
def convpaint_extractors():
    return [SobelExtractor]
