import importlib.metadata as md
import types
import warnings

import pytest

import convpaint
from convpaint import registry
from convpaint.builtin_extractors import RawPixels


class FakeDist:
    def __init__(self, name):
        self.name = name


class FakeEntryPoint:
    def __init__(self, name, dist, loader):
        self.name, self.dist, self._loader = name, FakeDist(dist), loader

    def load(self):
        return self._loader()


def _plugin(cls):
    mod = types.ModuleType(f"plugin_{cls.name}_{id(cls)}")

    @convpaint.hookimpl
    def convpaint_extractors():
        return [cls]

    mod.convpaint_extractors = convpaint_extractors
    return mod


def _registry_with(monkeypatch, eps):
    monkeypatch.setattr(md, "entry_points", lambda group: eps)
    reg = registry.Registry()
    reg.load_entry_points()
    return reg


def test_raw_is_builtin_and_buildable():
    assert "raw" in convpaint.list_extractors()
    assert isinstance(convpaint.get_extractor("raw"), RawPixels)


def test_unknown_extractor_lists_installed():
    with pytest.raises(convpaint.ExtractorNotFoundError, match="no extractor named 'nope'.*raw"):
        convpaint.get_extractor("nope")


def test_options_rejected_by_optionless_extractor():
    with pytest.raises(TypeError, match="takes no options"):
        convpaint.get_extractor("raw", sigma=3)


def test_broken_plugin_warns_and_others_work(monkeypatch):
    def boom():
        raise ImportError("missing dependency libfoo")

    good = type("Good", (RawPixels,), {"name": "good"})
    eps = [
        FakeEntryPoint("bad", "broken-dist", boom),
        FakeEntryPoint("good", "good-dist", lambda: _plugin(good)),
    ]
    with pytest.warns(RuntimeWarning, match="bad.*broken-dist.*libfoo"):
        reg = _registry_with(monkeypatch, eps)
    assert reg.names() == ["good"]
    assert reg.spec("good").distribution == "good-dist"


def test_name_conflict_names_both_distributions(monkeypatch):
    a = type("A", (RawPixels,), {"name": "dup"})
    b = type("B", (RawPixels,), {"name": "dup"})
    eps = [
        FakeEntryPoint("a", "dist-one", lambda: _plugin(a)),
        FakeEntryPoint("b", "dist-two", lambda: _plugin(b)),
    ]
    reg = _registry_with(monkeypatch, eps)
    with pytest.raises(convpaint.ExtractorConflictError, match="dist-one and dist-two"):
        reg.spec("dup")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.names()
    assert any("dist-one" in str(w.message) for w in caught)


def test_combined_extractor_from_string_and_list():
    combo = convpaint.get_extractor("raw+raw")
    assert combo.name == "raw+raw" and len(combo.parts) == 2
    assert convpaint.get_extractor(["raw", "raw"]).name == "raw+raw"
    with pytest.raises(TypeError, match="keyed by part name"):
        convpaint.get_extractor("raw+raw", sigma=1)
