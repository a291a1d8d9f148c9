"""Entry point of the ``convpaint.extractors`` group: registers ``dinov2``, ``dinov3`` and ``uni``.

Importing this module does not import torch or timm; the networks are built on first use.
"""

from __future__ import annotations

import convpaint

from .dinov2 import DinoV2
from .dinov3 import DinoV3
from .uni import UNI


@convpaint.hookimpl
def convpaint_extractors() -> list[type[convpaint.FeatureExtractor]]:
    return [DinoV2, DinoV3, UNI]
