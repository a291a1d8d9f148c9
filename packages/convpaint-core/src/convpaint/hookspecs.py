"""pluggy hook specifications: how a package contributes feature extractors and upsamplers.

A plugin module (named in the ``convpaint.extractors`` entry-point group)
implements::

    import convpaint

    @convpaint.hookimpl
    def convpaint_extractors():
        return [MyExtractor]          # FeatureExtractor subclasses or ExtractorSpec

The registry calls each plugin's hook through pluggy on its own.  A plugin that fails to
import, whose hook has another signature, raises, or returns anything but a list of these
is skipped with one ``RuntimeWarning`` naming its package; the other plugins still load.
An extractor whose attributes are unusable (e.g. ``patch_size=0``, ``padding=2.7``) or
whose ``extract`` fails or returns unusable features raises
:class:`convpaint.extractor.ExtractorError` naming it and its package.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "convpaint"
ENTRY_POINT_GROUP = "convpaint.extractors"
UPSAMPLER_GROUP = "convpaint.upsamplers"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def convpaint_extractors() -> list[Any]:
    """Return the extractors this plugin provides.

    Each item is a :class:`convpaint.FeatureExtractor` subclass (its ``name``
    and ``description`` class attributes are used and the class is the
    factory) or a :class:`convpaint.ExtractorSpec` ``(name, description,
    factory)`` whose factory takes the extractor options as keywords.
    """
    raise NotImplementedError  # a specification: pluggy calls the plugins' implementations


@hookspec
def convpaint_upsamplers() -> list[Any]:
    """Return the feature upsamplers this plugin provides.

    The plugin module is named in the ``convpaint.upsamplers`` entry-point group.  Each
    item is a :class:`convpaint.FeatureUpsampler` subclass (its ``name`` and
    ``description`` are used and the class is the factory) or a
    :class:`convpaint.UpsamplerSpec` ``(name, description, factory)``.  Faults are
    handled as for extractors: the plugin is skipped with a ``RuntimeWarning`` naming it.
    """
    raise NotImplementedError  # a specification: pluggy calls the plugins' implementations
