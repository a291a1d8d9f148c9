"""The feature-upsampler contract: coarse patch features -> per-pixel features.

A ViT extractor returns one feature vector per ``patch_size`` x ``patch_size``
patch; by default the core upsamples those maps bilinearly.  An upsampler
replaces that step, using the image as a guide so that feature boundaries
follow image edges.  It is a plugin kind of its own (entry-point group
``convpaint.upsamplers``, hook ``convpaint_upsamplers()``) and is chosen per
model: ``ConvpaintModel("dinov2", upsampler="guided")``.

A complete upsampler is a subclass that sets a few class attributes and
implements :meth:`FeatureUpsampler.upsample`::

    class Nearest(FeatureUpsampler):
        name = "nearest"
        description = "each patch's features repeated over its pixels"

        def upsample(self, features, guide, factor):
            return features.repeat(factor, axis=1).repeat(factor, axis=2)

Which features it applies to: every output of an extractor with ``patch_size > 1``
(one feature vector per patch: the ViTs), at each of its pyramid scalings, so at
``factor = patch_size * scaling``.  Extractors with per-pixel outputs (``patch_size
1``: CNNs, filters) keep the bilinear upsampling of their pyramid levels, also in a
combination such as ``"vgg16+dinov2"``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .extractor import NAME


class UpsamplerError(RuntimeError):
    """An upsampler is misdeclared, failed, or returned unusable features (the message
    names it and its package)."""


class FeatureUpsampler:
    """Base class of every feature upsampler.

    Class attributes
    ----------------
    name : str
        Registry name, e.g. ``"guided"``.
    description : str
        One line shown by ``convpaint extractors``.
    padding : int
        Context in output (full-resolution) pixels: an output pixel farther than
        ``padding`` from the border of the block handed to :meth:`upsample` does not
        depend on that border.  The core widens its tile halo by :meth:`context`
        (``padding`` unless overridden).
    tile_exact : bool
        Upsampling tiles with a halo of ``padding`` gives the same values as
        upsampling the whole plane (bit for bit on the same machine).
    deterministic : bool
        Same input -> bit-identical output.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    padding: int = 0
    tile_exact: bool = True
    deterministic: bool = True

    def __init__(self, **options: Any) -> None:
        if options:
            names = ", ".join(sorted(options))
            raise TypeError(f"upsampler {self.name!r} takes no options, got: {names}")

    def upsample(self, features: np.ndarray, guide: np.ndarray, factor: int) -> np.ndarray:
        """Upsample one block's coarse features by ``factor`` using ``guide``.

        Parameters
        ----------
        features : ndarray of shape (F, h, w), float32
            Extractor output for the block; coarse pixel (i, j) covers full-resolution
            pixels [i*factor, (i+1)*factor) x [j*factor, (j+1)*factor).
        guide : ndarray of shape (C, h * factor, w * factor), float32
            The normalised image of the same block at full resolution (C = 1 or 3).
        factor : int
            Full-resolution pixels per coarse pixel (patch size x pyramid scaling), >= 2.

        Returns
        -------
        ndarray of shape (F, h * factor, w * factor), float32
        """
        raise NotImplementedError

    def context(self, factor: int) -> int:
        """Output pixels of context at ``factor`` (see ``padding``); override it when the
        context scales with the patch (a window counted in patches)."""
        return int(self.padding)

    def get_options(self) -> dict[str, Any]:
        """JSON-serialisable options that rebuild this upsampler (stored in model files)."""
        return {}

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.get_options().items())
        return f"{type(self).__name__}({opts})"


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def declaration_problems(up: FeatureUpsampler) -> list[str]:
    """What is wrong with an upsampler's declared attributes (empty: nothing)."""
    problems = []
    name = getattr(up, "name", None)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        problems.append(f"name must be letters, digits, '.', '_' or '-', got {name!r}")
    padding: Any = getattr(up, "padding", None)
    if not _is_int(padding) or padding < 0:
        problems.append(f"padding must be an integer >= 0, got {padding!r}")
    for attr in ("tile_exact", "deterministic"):
        value = getattr(up, attr, None)
        if not isinstance(value, (bool, np.bool_)):
            problems.append(f"{attr} must be True or False, got {value!r}")
    if not problems:
        try:
            context: Any = up.context(2)
        except Exception as exc:
            problems.append(f"context(2) raised {type(exc).__name__}: {exc}")
        else:
            if not _is_int(context) or context < 0:
                problems.append(f"context(factor) must be an integer >= 0, got {context!r}")
    return problems
