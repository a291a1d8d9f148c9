"""convpaint.testing's plugins for tests: PatchStats keeps the extractor contract,
``registered`` adds classes for a block and restores the registries, also after an error."""

import pytest

import convpaint
from convpaint import registry, upsampler_registry
from convpaint.testing import NearestPatches, PatchStats, check_extractor, registered


def test_patch_stats_passes_the_conformance_kit():
    with registered(extractors=[PatchStats]):
        check_extractor("patch4", quick=True)


def test_registered_adds_classes_for_the_block_only():
    before = registry.get_registry(), upsampler_registry.get_upsampler_registry()
    with registered(extractors=[PatchStats], upsamplers=[NearestPatches]):
        assert "patch4" in convpaint.list_extractors()
        assert "nearest-test" in convpaint.list_upsamplers()
        assert "raw" in convpaint.list_extractors()  # the installed plugins stay
        up = convpaint.get_upsampler("nearest-test", gain=2)
        assert up.get_options() == {"gain": 2}
    assert (registry.get_registry(), upsampler_registry.get_upsampler_registry()) == before
    assert "patch4" not in convpaint.list_extractors()
    with pytest.raises(RuntimeError, match="inside"), registered(extractors=[PatchStats]):
        raise RuntimeError("inside")
    assert registry.get_registry() is before[0]
