"""Entry point of the ``convpaint.upsamplers`` group: registers the ``jafar`` upsampler.

Importing this module does not import torch; the network is built on first use.
"""

from __future__ import annotations

import convpaint
from convpaint.upsampler import FeatureUpsampler

from .jafar_upsampler import JafarUpsampler


@convpaint.hookimpl
def convpaint_upsamplers() -> list[type[FeatureUpsampler]]:
    return [JafarUpsampler]
