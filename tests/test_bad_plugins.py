"""Faulty plugins and extractors (issue 15 item 4, issue 14 items 9-11).

Every plugin here is a real distribution: a ``<dist>.dist-info`` folder with an
``entry_points.txt`` (group ``convpaint.extractors``) and a module, both on ``sys.path``; the
registry re-discovers entry points from scratch. A faulty plugin is skipped with one warning
naming its package while the other extractors keep working; a faulty extractor is refused with
an :class:`~convpaint.extractor.ExtractorError` naming the extractor and its package.
"""

from __future__ import annotations

import re
import sys
import textwrap
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest

import convpaint
from convpaint import registry
from convpaint.extractor import ExtractorError, FeatureExtractor
from convpaint.features import FeaturePipeline

DIST = "convpaint-faulty"
PREFIX = "cp_faulty_"
HEAD = "import convpaint\nfrom convpaint.builtin_extractors import RawPixels\n"


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``install(source, value=None)``: put a one-module distribution ``convpaint-faulty`` on
    sys.path with entry point ``faulty = <value or the module>`` and forget the registry."""
    created: list[str] = []

    def _install(source: str, value: str | None = None, dist: str = DIST) -> str:
        mod = f"{PREFIX}{uuid.uuid4().hex[:10]}"
        created.append(mod)
        root = tmp_path / mod
        root.mkdir()
        (root / f"{mod}.py").write_text(textwrap.dedent(source))
        info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        target = (value or "{mod}").format(mod=mod)
        (info / "entry_points.txt").write_text(f"[convpaint.extractors]\nfaulty = {target}\n")
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.setattr(registry, "_REGISTRY", None)  # restored afterwards
        return mod

    yield _install
    for mod in created:
        sys.modules.pop(mod, None)


def discover() -> tuple[list[str], list[str]]:
    """Extractor names from a fresh discovery and the warnings that name our package."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = convpaint.list_extractors()
    return names, [str(w.message) for w in caught if DIST in str(w.message)]


def others_still_work() -> None:
    names = convpaint.list_extractors()
    assert {"raw", "ilastik", "sobel"} <= set(names)
    rng = np.random.default_rng(0)
    image = rng.random((32, 32), dtype=np.float32)
    ann = np.zeros((32, 32), np.uint8)
    ann[2, 2:20], ann[28, 5:25] = 1, 2
    model = convpaint.ConvpaintModel("sobel+raw", n_estimators=2).train(image, ann)
    assert model.segment(image).shape == image.shape


def hook(body: str) -> str:
    return (
        HEAD + "@convpaint.hookimpl\ndef convpaint_extractors():\n" + textwrap.indent(body, "    ")
    )


GOOD_CLASS = "class Good(RawPixels):\n    name = 'faulty-good'\n"

# id: (module source, entry-point value or None, pattern the one warning must match)
PLUGIN_FAULTS = {
    "import_error": ("import no_such_dependency_xyz\n", None, r"importing it failed: Module"),
    "syntax_error": ("def broken(:\n", None, r"importing it failed: SyntaxError"),
    "raises_at_import": ("raise RuntimeError('no GPU driver')\n", None, r"RuntimeError: no GPU"),
    "exits_at_import": ("import sys\nsys.exit(3)\n", None, r"importing it failed: SystemExit"),
    "missing_module": ("", "cp_faulty_no_such_module", r"ModuleNotFoundError"),
    "missing_attribute": (HEAD, "{mod}:nothere", r"importing it failed: AttributeError"),
    "wrong_signature": (
        HEAD + "@convpaint.hookimpl\ndef convpaint_extractors(config):\n    return [RawPixels]\n",
        None,
        r"(?s)hook is malformed: PluginValidationError.*config",
    ),
    "misspelled_hook": (
        HEAD + "@convpaint.hookimpl\ndef convpaint_extractor():\n    return []\n",
        None,
        r"no convpaint_extractors\(\) hook",
    ),
    "no_hook": ("X = 1\n", None, r"no convpaint_extractors\(\) hook"),
    "hook_raises": (hook("raise KeyError('config.yaml')\n"), None, r"raised KeyError: 'config"),
    "hook_exits": (hook("raise SystemExit(2)\n"), None, r"raised SystemExit"),
    "generator_raises": (
        GOOD_CLASS.replace("class", HEAD + "class", 1)
        + "@convpaint.hookimpl\ndef convpaint_extractors():\n    yield Good\n"
        + "    raise ValueError('half done')\n",
        None,
        r"raised ValueError: half done",
    ),
    "returns_none": (hook("return None\n"), None, r"returned None; expected a list"),
    "returns_int": (hook("return 5\n"), None, r"returned 5; expected a list"),
    "returns_string": (hook("return 'raw'\n"), None, r"returned 'raw'; expected a list"),
    "returns_dict": (hook("return {'x': RawPixels}\n"), None, r"returned \{'x'"),
    "returns_instance": (hook("return [RawPixels()]\n"), None, r"RawPixels\(\) is not a Feature"),
    "returns_other_class": (hook("return [dict]\n"), None, r"<class 'dict'> is not a Feature"),
    "empty_name": (
        hook("class E(RawPixels):\n    name = ''\nreturn [E]\n"),
        None,
        r"extractor class .*E has an invalid name ''",
    ),
    "plus_in_name": (
        hook("class P(RawPixels):\n    name = 'a+b'\nreturn [P]\n"),
        None,
        r"invalid name 'a\+b'",
    ),
    "spec_not_callable": (
        hook("return [convpaint.ExtractorSpec('faulty-x', 'd', 42)]\n"),
        None,
        r"factory of extractor 'faulty-x' is not callable",
    ),
    "spec_bad_name": (
        hook("return [convpaint.ExtractorSpec(None, 'd', RawPixels)]\n"),
        None,
        r"an ExtractorSpec has an invalid name None",
    ),
    "broken_repr_and_name": (
        hook(
            "class Meta(type):\n"
            "    name = property(lambda cls: 1 / 0)\n"
            "    __repr__ = lambda cls: 1 / 0\n"
            "class Evil(RawPixels, metaclass=Meta):\n    pass\n"
            "return [Evil]\n"
        ),
        None,
        r"unusable items: <Meta object>: ZeroDivisionError",
    ),
    "one_bad_item_among_good": (
        GOOD_CLASS.replace("class", HEAD + "class", 1)
        + "@convpaint.hookimpl\ndef convpaint_extractors():\n    return [Good, 3.5]\n",
        None,
        r"unusable items: 3.5 is not",
    ),
}


@pytest.mark.parametrize("fault", list(PLUGIN_FAULTS))
def test_faulty_plugin_is_skipped_with_one_warning(install, fault: str) -> None:
    source, value, pattern = PLUGIN_FAULTS[fault]
    install(source, value)
    names, messages = discover()
    assert len(messages) == 1, messages
    assert "'faulty'" in messages[0] and f"package {DIST}" in messages[0]
    assert re.search(pattern, messages[0]), messages[0]
    assert not [n for n in names if n.startswith("faulty")]  # nothing of it half-registered
    others_still_work()


def test_the_old_registry_test_double_still_works(install) -> None:
    """An undecorated module-level hook (older plugins) is still accepted through pluggy."""
    install(
        GOOD_CLASS.replace("class", HEAD + "class", 1) + "def convpaint_extractors():\n"
        "    return [Good]\n"
    )
    names, messages = discover()
    assert messages == [] and "faulty-good" in names
    assert convpaint.get_extractor("faulty-good").name == "faulty-good"
    assert registry.get_registry().spec("faulty-good").distribution == DIST


# -- extractors that register fine but are misdeclared or misbehave ------------------------
EXTRACTORS = """
import numpy as np
import convpaint


class Base(convpaint.FeatureExtractor):
    def extract(self, plane):
        return plane.copy()


def make(name, **attrs):
    return type(name.replace("-", "_"), (Base,), {"name": name, **attrs})


def output(name, fn):
    return make(name, extract=lambda self, plane: fn(plane))


class Raises(Base):
    name = "raises"

    def extract(self, plane):
        return 1 / 0


class Varying(Base):
    name = "varying"
    calls = 0

    def extract(self, plane):
        type(self).calls += 1
        return np.repeat(plane, 2 + type(self).calls % 2, axis=0)


def broken_factory(**options):
    raise AttributeError("'NoneType' object has no attribute 'cuda'")


CLASSES = [
    make("zero-patch", patch_size=0),
    make("zero-channels", n_input_channels=0),
    make("negative-padding", padding=-5),
    make("fractional-padding", padding=2.7),
    make("zero-alignment", alignment=0),
    make("string-patch", patch_size="16"),
    make("zero-tile", tile_size=0),
    make("no-scalings", default_scalings=()),
    make("bad-rgb", rgb="yes"),
    Raises,
    Varying,
    output("inf", lambda p: np.full_like(p, np.inf)),
    output("nan", lambda p: np.where(p > 0.5, np.nan, p)),
    output("huge", lambda p: np.full(p.shape, 1e300)),
    output("objects", lambda p: p.astype(object)),
    output("none", lambda p: None),
    output("strings", lambda p: np.full(p.shape, "abc")),
    output("wrong-shape", lambda p: p[:, :-1]),
    output("no-features", lambda p: p[:0]),
    output("no-feature-axis", lambda p: p[0]),
]


@convpaint.hookimpl
def convpaint_extractors():
    return CLASSES + [
        convpaint.ExtractorSpec("broken-factory", "raises", broken_factory),
        convpaint.ExtractorSpec("not-an-extractor", "returns a dict", lambda **o: {}),
    ]
"""

DECLARATIONS = {
    "zero-patch": r"patch_size must be an integer >= 1, got 0",
    "zero-channels": r"n_input_channels must be an integer >= 1, got 0",
    "negative-padding": r"padding must be an integer >= 0, got -5",
    "fractional-padding": r"padding must be an integer >= 0, got 2.7",
    "zero-alignment": r"alignment must be an integer >= 1, got 0",
    "string-patch": r"patch_size must be an integer >= 1, got '16'",
    "zero-tile": r"tile_size must be None or an integer >= 1, got 0",
    "no-scalings": r"default_scalings must be positive integers, got \(\)",
    "bad-rgb": r"rgb must be True or False, got 'yes'",
    "broken-factory": r"failed to build: AttributeError: 'NoneType' object has no attribute",
    "not-an-extractor": r"its factory returned \{\}, not a FeatureExtractor",
}


@pytest.fixture
def faulty(install) -> None:
    install(EXTRACTORS)
    names, messages = discover()
    assert messages == [] and {"zero-patch", "raises", "raw", "sobel"} <= set(names)


def who(name: str) -> str:
    return f"extractor '{name}' (package {DIST})"


@pytest.mark.parametrize("name", list(DECLARATIONS))
def test_misdeclared_extractor_is_refused_when_built(faulty, name: str) -> None:
    for build in (lambda: convpaint.get_extractor(name), lambda: convpaint.ConvpaintModel(name)):
        with pytest.raises(ExtractorError, match=DECLARATIONS[name]) as info:
            build()
        assert isinstance(info.value, RuntimeError) and who(name) in str(info.value)
    with pytest.raises(ExtractorError, match=f"extractor '{name}'"):  # also inside a combination
        convpaint.get_extractor(f"raw+{name}")
    others_still_work()


OUTPUTS = {
    "raises": r"failed: ZeroDivisionError: division by zero",
    "inf": r"returned NaN or infinite features",
    "nan": r"returned NaN or infinite features",
    "huge": r"NaN or infinite features \(or values beyond float32's range\)",
    "objects": r"returned features of dtype object; expected a numeric",
    "none": r"returned features of dtype object",
    "strings": r"returned features of dtype <U3",
    "wrong-shape": r"returned features of shape \(1, (\d+), \d+\) for input \(1, (?!\1)\d+, \d+\)",
    "no-features": r"returned features of shape \(0, \d+, \d+\).*F > 0",
    "no-feature-axis": r"returned features of shape \((\d+), \1\) for input \(1, \1, \1\)",
}


def scribbled() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    image = rng.random((32, 32), dtype=np.float32)
    ann = np.zeros((32, 32), np.uint8)
    ann[3, 3:20], ann[25, 5:25] = 1, 2
    return image, ann


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_bad_extractor_output_names_the_extractor(faulty, name: str) -> None:
    image, ann = scribbled()
    model = convpaint.ConvpaintModel(name, n_estimators=2, workers=1)
    with pytest.raises(ExtractorError, match=OUTPUTS[name]) as info:
        model.train(image, ann)
    assert who(name) in str(info.value)
    if name == "raises":
        assert isinstance(info.value.__cause__, ZeroDivisionError)
    others_still_work()


def test_varying_feature_count_between_tiles(faulty) -> None:
    pipeline = FeaturePipeline(convpaint.get_extractor("varying"))
    block = np.zeros((1, 24, 24), np.float32)
    assert pipeline.block_features(block).shape[0] in (2, 3)
    with pytest.raises(ExtractorError, match=r"\d features here but \d on an earlier tile") as info:
        pipeline.block_features(block)
    assert who("varying") in str(info.value)


def test_varying_feature_count_through_the_model(faulty) -> None:
    rng = np.random.default_rng(2)
    image = rng.random((160, 160), dtype=np.float32)
    ann = np.zeros(image.shape, np.uint8)
    ann[5, :], ann[150, :] = 1, 2
    model = convpaint.ConvpaintModel("varying", n_estimators=2, tile_size=64, workers=1)
    with pytest.raises(
        ExtractorError, match=re.escape(who("varying")) + r" returned \d features here"
    ):
        model.train(image, ann)


def test_misdeclared_instance_is_refused() -> None:
    class Local(FeatureExtractor):
        name = "local"

        def __init__(self) -> None:
            self.padding = 2.7  # type: ignore[assignment]

        def extract(self, plane: np.ndarray) -> np.ndarray:
            return plane

    with pytest.raises(ExtractorError, match=r"extractor 'local' is misdeclared: padding must"):
        convpaint.ConvpaintModel(Local())
    with pytest.raises(ExtractorError, match=r"extractor 'local' is misdeclared"):
        FeaturePipeline(Local())


# -- ilastik options: sigmas (issue 14 item 9) ---------------------------------------------
@pytest.mark.parametrize(
    "sigmas",
    [
        [1e308],
        [1e-300],
        [-1.0],
        [0.0],
        [float("nan")],
        [float("inf")],
        [],
        "abc",
        ["1.0"],
        [None],
        [True],
        [0.05],
        [65.0],
        [1.0, 1e308],
    ],
    ids=repr,
)
def test_ilastik_sigmas_out_of_range(sigmas) -> None:
    pattern = r"sigmas must be .* 0\.1 <= sigma <= 64"
    with pytest.raises(ValueError, match=pattern):
        convpaint.get_extractor("ilastik", sigmas=sigmas)
    with pytest.raises(ValueError, match=pattern):
        convpaint.ConvpaintModel("ilastik", sigmas=sigmas)


def test_ilastik_sigma_range_ends_are_usable() -> None:
    ex = convpaint.get_extractor("ilastik", sigmas=[0.1, 64], filters=["gaussian"])
    assert ex.sigmas == (0.1, 64.0)
    f = ex.extract(np.random.default_rng(0).random((1, 40, 40), dtype=np.float32))
    assert f.shape == (2, 40, 40) and np.isfinite(f).all()
