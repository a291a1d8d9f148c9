from __future__ import annotations

import importlib.metadata as md

import convpaint
from convpaint_ilastik import IlastikFilters


def test_entry_point_registered() -> None:
    eps = [ep for ep in md.entry_points(group="convpaint.extractors") if ep.name == "ilastik"]
    assert [ep.value for ep in eps] == ["convpaint_ilastik.plugin"]
    assert eps[0].dist is not None and eps[0].dist.name == "convpaint-ilastik"


def test_discovered_by_core() -> None:
    assert "ilastik" in convpaint.list_extractors()
    spec = convpaint.registry.get_registry().spec("ilastik")
    assert spec.distribution == "convpaint-ilastik" and spec.factory is IlastikFilters
    ex = convpaint.get_extractor("ilastik", sigmas=[1.0], filters=["gaussian"])
    assert isinstance(ex, IlastikFilters) and ex.feature_names == ["gaussian_s1"]
