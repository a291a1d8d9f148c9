"""Entry point of the ``convpaint.extractors`` group: registers ``cellpose``.

Importing this module does not import torch or cellpose; the network is built on first use.
"""

from __future__ import annotations

import convpaint

from .extractor import Cellpose


@convpaint.hookimpl
def convpaint_extractors() -> list[type[convpaint.FeatureExtractor]]:
    return [Cellpose]
