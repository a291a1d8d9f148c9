"""convpaint.testing itself: each check fails a deliberately broken extractor, clearly."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import ndimage

import convpaint
from convpaint import testing
from convpaint.testing import ConformanceError, check_extractor, extractor_checks


class Good(convpaint.FeatureExtractor):
    """A small, correct extractor (not registered: the kit registers it while loading)."""

    name = "kit-good"
    padding = 4
    supports_volume = True

    def extract(self, plane):
        self._check(plane, 3)
        smooth = ndimage.gaussian_filter(plane[0], 1.0, truncate=3.0)
        return np.stack([plane[0], smooth, ndimage.sobel(smooth, 0)]).astype(np.float32)

    def extract_volume(self, volume):
        self._check(volume, 4)
        return np.stack([volume[0], ndimage.gaussian_filter(volume[0], 1.0)]).astype(np.float32)

    def _check(self, arr, ndim):
        if arr.ndim != ndim or arr.shape[0] != 1:
            raise ValueError(
                f"{self.name}: expected a (1, ...) array of {ndim} dims, got {arr.shape}"
            )


class Misdeclared(Good):
    name = "kit-misdeclared"
    padding = -1


class NoExtract(convpaint.FeatureExtractor):
    name = "kit-noextract"


class NotJson(Good):
    name = "kit-notjson"

    def get_options(self):
        return {"kernel": np.ones(3)}


class Float64(Good):
    name = "kit-float64"

    def extract(self, plane):
        return super().extract(plane).astype(np.float64)


class WrongShape(Good):
    name = "kit-wrongshape"

    def extract(self, plane):
        return super().extract(plane)[:, :-1]


class Modifies(Good):
    name = "kit-modifies"

    def extract(self, plane):
        out = super().extract(plane)
        plane *= 2
        return out


class AcceptsAnything(Good):
    name = "kit-acceptsanything"

    def extract(self, plane):
        return np.atleast_3d(np.asarray(plane, np.float32))[:1]


class Noisy(Good):
    name = "kit-noisy"

    def extract(self, plane):
        return super().extract(plane) + np.random.default_rng().random(1, np.float32)


class LargeBlocksBug(Good):
    """Right on small planes, one row short on the blocks the core hands it."""

    name = "kit-largeblocks"

    def extract(self, plane):
        out = super().extract(plane)
        return out[:, :-1] if plane.shape[1] > 32 else out


class NeedsLargePlanes(Good):
    """Fails on planes under 24 px: the core hands a 5 x 7 image as a 23 x 25 block."""

    name = "kit-needslarge"

    def extract(self, plane):
        if min(plane.shape[1:]) < 24:
            raise ValueError("plane too small")
        return super().extract(plane)


class TileDependent(Good):
    """Claims deterministic (tile-exact) but subtracts the tile's mean."""

    name = "kit-tiledependent"

    def extract(self, plane):
        out = super().extract(plane)
        return out - out.mean(axis=(1, 2), keepdims=True)


class ForgetsOption(Good):
    """Takes gain= but always reports the default: a loaded model differs."""

    name = "kit-forgets"

    def __init__(self, gain=1.0):
        super().__init__()
        self.gain = float(gain)

    def extract(self, plane):
        return super().extract(plane) * self.gain

    def get_options(self):
        return {"gain": 1.0}


class FlatVolume(Good):
    name = "kit-flatvolume"

    def extract_volume(self, volume):
        return super().extract_volume(volume)[:, 0]


BROKEN = [
    (Misdeclared, None, "declaration", "padding must be an integer >= 0"),
    (NoExtract, None, "declaration", "does not implement extract()"),
    (NotJson, None, "options", "not JSON-serialisable"),
    (Float64, None, "extract", "expected float32"),
    (WrongShape, None, "extract", "expected (F >= 1"),
    (Modifies, None, "extract", "modified its input plane"),
    (AcceptsAnything, None, "bad_plane", "accepted a 2-D"),
    (Noisy, None, "determinism", "not bit-identical"),
    (LargeBlocksBug, None, "train_segment_1ch", "returned features of shape"),
    (LargeBlocksBug, None, "train_segment_3ch", "returned features of shape"),
    (NeedsLargePlanes, None, "small_image", "plane too small"),
    (TileDependent, None, "tiled_untiled", "differ from one tile"),
    (ForgetsOption, {"gain": 2.0}, "model_file", "probabilities differ"),
    (FlatVolume, None, "volume", "extract_volume() of (1, 4, 12, 13) returned"),
]


@pytest.mark.parametrize("cls, options, check, fragment", BROKEN, ids=[b[2] for b in BROKEN])
def test_each_check_fails_a_broken_extractor_clearly(cls, options, check, fragment):
    (found,) = [c for c in extractor_checks(cls, options) if c.name == check]
    with pytest.raises(ConformanceError) as info:
        found.run()
    message = str(info.value)
    assert f"extractor {cls.name!r} fails conformance check {check!r}" in message
    assert fragment in message, message
    assert info.value.checks == [check] and info.value.extractor == cls.name


def test_good_extractor_passes_and_leaves_the_registry_as_it_was():
    check_extractor(Good)  # model_file loads it by name while the kit registers it
    assert "kit-good" not in convpaint.list_extractors()


def test_check_extractor_lists_every_failure():
    with pytest.raises(ConformanceError) as info:
        check_extractor(LargeBlocksBug, quick=True)
    assert {"train_segment_1ch", "tiled_untiled", "model_file"} <= set(info.value.checks)
    assert "extract" not in info.value.checks
    assert "conformance checks:\n  train_segment_1ch:" in str(info.value)
    assert isinstance(info.value, AssertionError)


def test_checks_are_named_and_quick_runs_fewer():
    names = [str(c) for c in extractor_checks("raw")]
    assert names[:3] == ["declaration", "options", "option_schema"]
    assert {"train_segment_1ch", "train_segment_3ch", "plugin_import"} <= set(names)
    quick = [c.name for c in extractor_checks("raw", quick=True)]
    assert "train_segment_3ch" not in quick and "train_segment_1ch" in quick


def test_not_applicable_checks_say_why():
    checks = {c.name: c for c in extractor_checks(Noisy)}
    assert checks["option_schema"].run() == (
        "declares no option schema (class attribute 'options')"
    )

    class NotTileExact(Good):
        name = "kit-nottileexact"
        deterministic = False

    (tiled,) = [c for c in extractor_checks(NotTileExact) if c.name == "tiled_untiled"]
    assert "deterministic=False" in tiled.run()


def test_option_schema_must_match_get_options():
    Option = pytest.importorskip("convpaint.options").Option

    class Schema(Good):
        name = "kit-schema"
        options = (Option("sigma", "float", 1.0, "smoothing", minimum=0.1),)

        def get_options(self):
            return {}

    (check,) = [c for c in extractor_checks(Schema) if c.name == "option_schema"]
    with pytest.raises(ConformanceError, match=r"stored options of the schema \['sigma'\]"):
        check.run()


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="extractor name or a FeatureExtractor subclass"):
        extractor_checks(42)
    with pytest.raises(ValueError, match="not a combination"):
        extractor_checks("raw+sobel")
    with pytest.raises(ValueError, match="positive channel counts"):
        extractor_checks("raw", channels=(0,))
    with pytest.raises(TypeError, match="dict of extractor options"):
        extractor_checks("raw", options=[1])


def _plugin_module(tmp_path, monkeypatch, body):
    (tmp_path / "kit_plugin.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(testing, "HEAVY_MODULES", ("colorsys",))  # a cheap stand-in for torch
    import importlib

    sys.modules.pop("kit_plugin", None)
    module = importlib.import_module("kit_plugin")
    (check,) = [c for c in extractor_checks(module.Plugin) if c.name == "plugin_import"]
    return check


PLUGIN = """
    import numpy as np
    import convpaint
    {extra}

    class Plugin(convpaint.FeatureExtractor):
        name = "kit-plugin"

        def extract(self, plane):
            return np.asarray(plane, np.float32).copy()
"""


def test_plugin_import_of_a_heavy_module_fails(tmp_path, monkeypatch):
    check = _plugin_module(tmp_path, monkeypatch, PLUGIN.format(extra="import colorsys"))
    with pytest.raises(ConformanceError, match=r"module 'kit_plugin' .* imports colorsys"):
        check.run()


def test_plugin_import_lazy_is_fine_and_broken_import_fails(tmp_path, monkeypatch):
    assert _plugin_module(tmp_path, monkeypatch, PLUGIN.format(extra="")).run() is None
    extra = "import os\n    if 'KIT_BREAK' in os.environ:\n        raise ImportError('gone')"
    body = PLUGIN.format(extra=extra)
    check = _plugin_module(tmp_path, monkeypatch, body)
    monkeypatch.setenv("KIT_BREAK", "1")
    with pytest.raises(ConformanceError, match="failed: ImportError: gone"):
        check.run()


def test_importing_the_kit_needs_no_pytest():
    code = "import sys; sys.modules['pytest'] = None; import convpaint.testing; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
