"""The options schema (convpaint.options) and the declared extractor contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import convpaint
from convpaint.extractor import FeatureExtractor, declaration_problems
from convpaint.options import (
    Option,
    OptionError,
    defaults,
    describe,
    schema_problems,
    stored_options,
    validate,
)

SCHEMA = (
    Option("layers", "int-list", (0,), "conv layers", choices=(0, 2, 5)),
    Option("sigma", "float", 1.0, "smoothing", minimum=0.1, maximum=8),
    Option("n", "int", 3, "count", minimum=1),
    Option("fast", "bool", False, "use the fast path"),
    Option("mode", "str", "a", "mode", choices=("a", "b")),
    Option("weights", "path", None, "weights file", choices=("random",)),
    Option("sigmas", "float-list", (1.0, 2.0), "scales", minimum=0.1),
    Option("filters", "str-list", ("x", "y"), "filters", choices=("x", "y", "z")),
    Option("device", "str", "auto", "where", stored=False),
)


def test_values_of_the_right_type_pass_unchanged_or_normalised():
    got = validate(
        SCHEMA,
        {
            "layers": (2, 0),
            "sigma": 2,
            "n": np.int64(4),
            "fast": True,
            "mode": "b",
            "weights": Path("/x/w.pth"),
            "sigmas": 3,
            "filters": "z",
        },
    )
    assert got == {
        "layers": [2, 0],
        "sigma": 2.0,
        "n": 4,
        "fast": True,
        "mode": "b",
        "weights": "/x/w.pth",
        "sigmas": [3.0],
        "filters": ["z"],
    }
    assert isinstance(got["sigma"], float) and type(got["n"]) is int


def test_text_from_the_command_line_is_coerced_by_type():
    got = validate(
        SCHEMA,
        {
            "layers": "[0,2]",
            "sigma": "2.5",
            "n": "7",
            "fast": "true",
            "mode": '"b"',
            "weights": "random",
            "sigmas": "1, 3.5",
            "filters": "x,z",
        },
    )
    assert got == {
        "layers": [0, 2],
        "sigma": 2.5,
        "n": 7,
        "fast": True,
        "mode": "b",
        "weights": "random",
        "sigmas": [1.0, 3.5],
        "filters": ["x", "z"],
    }
    assert validate(SCHEMA, {"weights": "null", "fast": "off", "layers": "5"}) == {
        "weights": None,
        "fast": False,
        "layers": [5],
    }


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"layers": [1]}, ["'layers'", "1", "one of 0, 2, 5"]),
        ({"layers": []}, ["'layers'", "non-empty"]),
        ({"layers": "[0, 2.5]"}, ["'layers'", "integer", "2.5"]),
        ({"sigma": 9}, ["'sigma'", "9", "0.1..8"]),
        ({"sigma": float("nan")}, ["'sigma'", "finite"]),
        ({"sigma": "abc"}, ["'sigma'", "'abc'"]),
        ({"n": 2.0}, ["'n'", "integer", "2.0"]),
        ({"n": 0}, ["'n'", "0", "1.."]),
        ({"n": True}, ["'n'", "integer"]),
        ({"fast": "maybe"}, ["'fast'", "true or false", "'maybe'"]),
        ({"fast": 1}, ["'fast'", "true or false"]),
        ({"mode": "c"}, ["'mode'", "'c'", "one of a, b"]),
        ({"mode": None}, ["'mode'", "null"]),
        ({"weights": 3}, ["'weights'", "path", "3"]),
        ({"weights": ""}, ["'weights'", "path"]),
        ({"sigmas": [1.0, 0.0]}, ["'sigmas'", "0.0", "0.1.."]),
        ({"filters": ["x", "q"]}, ["'filters'", "'q'", "one of x, y, z"]),
    ],
)
def test_bad_values_name_the_option_the_value_and_what_is_allowed(values, words):
    with pytest.raises(OptionError) as info:
        validate(SCHEMA, values, owner="extractor 'demo'")
    text = str(info.value)
    assert "of extractor 'demo'" in text
    for word in words:
        assert word in text, (word, text)
    assert info.value.option == next(iter(values))


def test_unknown_option_lists_the_known_ones_and_a_close_match():
    with pytest.raises(OptionError, match=r"has no option 'layer' \(did you mean 'layers'\?\)"):
        validate(SCHEMA, {"layer": [0]}, owner="extractor 'demo'")
    with pytest.raises(OptionError, match="its options: layers, sigma, n, fast, mode, weights"):
        validate(SCHEMA, {"zzz": 1})
    with pytest.raises(OptionError, match="its options: none"):
        validate((), {"zzz": 1})


def test_defaults_stored_options_and_describe():
    d = defaults(SCHEMA)
    assert d["layers"] == [0] and d["device"] == "auto" and d["weights"] is None
    assert validate(SCHEMA, d) == d  # defaults are valid values

    class Obj:
        layers = (2, 5)
        sigma, n, fast, mode, weights = 1.5, 2, True, "a", Path("w.pth")
        sigmas, filters, device = (1.0,), ("x",), "cpu"

    stored = stored_options(SCHEMA, Obj())
    assert "device" not in stored  # a run setting
    assert stored["layers"] == [2, 5] and stored["weights"] == "w.pth"
    assert list(stored) == [o.name for o in SCHEMA if o.stored]
    lines = describe(SCHEMA)
    assert lines[0].split() == ["NAME", "TYPE", "DEFAULT", "HELP"]
    at = next(i for i, line in enumerate(lines) if line.startswith("layers"))
    assert lines[at].split()[:3] == ["layers", "int-list", "[0]"] and "conv layers" in lines[at]
    assert lines[at + 1].split() == ["allowed:", "one", "of", "0,", "2,", "5"]
    assert "run setting" in next(line for line in lines if line.startswith("device"))
    at = next(i for i, line in enumerate(lines) if line.startswith("weights"))
    assert lines[at + 1].strip() == "allowed: a path, random or null"
    long = describe((Option("f", "str-list", tuple("abcdefghijklmnopqrstuvwxyz"), "x"),), width=40)
    assert long[1].split()[2] == "(below)" and long[2].strip().startswith("default: [")
    assert all(len(line) <= 40 for line in long[2:])


def test_schema_problems():
    assert schema_problems(SCHEMA) == []
    bad = (
        Option("a", "int", 1, "x"),
        Option("a", "int", 1, "x"),
        Option("b c", "int", 1, "x"),
        Option("d", "complex", 1, "x"),
        Option("e", "int", 0, "x", minimum=1),
        Option("f", "str", "z", "x", choices=("a",)),
        Option("g", "str", "a", "x", choices=()),
        Option("h", "float", 1.0, "x", minimum=2, maximum=1),
        Option("i", "bool", True, "x", minimum=0),
    )
    problems = "\n".join(schema_problems(bad))
    for word in ("'a' is declared twice", "'b c'", "'complex'", "'e'", "'f'", "'g'", "'h'", "'i'"):
        assert word in problems, word
    assert schema_problems([Option("a", "int", 1, "x")])  # a list, not a tuple
    assert schema_problems(("a",))


class Smooth(FeatureExtractor):
    """A schema-only extractor: no constructor of its own."""

    name = "smooth-test"
    options = (
        Option("sigma", "int", 2, "Gaussian sigma", minimum=1, maximum=4),
        Option("fast", "bool", False, "skip the copy"),
        Option("device", "str", "auto", "where", stored=False),
    )
    supports_device = True
    padding = 12

    def extract(self, plane):
        from scipy import ndimage

        return ndimage.gaussian_filter(plane[:1], (0, self.sigma, self.sigma))


def test_base_constructor_validates_and_stores_options():
    ex = Smooth(sigma=3)
    assert (ex.sigma, ex.fast, ex.device) == (3, False, "auto")
    assert ex.get_options() == {"sigma": 3, "fast": False}
    assert declaration_problems(ex) == []
    with pytest.raises(OptionError, match="option 'sigma' of extractor 'smooth-test': 5"):
        Smooth(sigma=5)
    with pytest.raises(OptionError, match="extractor 'smooth-test' has no option 'sgima'"):
        Smooth(sgima=3)
    again = Smooth(**ex.get_options())
    assert again.get_options() == ex.get_options()


def test_extractor_without_schema_still_refuses_options():
    class Plain(FeatureExtractor):
        name = "plain"

    assert Plain().get_options() == {} and Plain().n_features is None
    with pytest.raises(TypeError, match="takes no options"):
        Plain(x=1)


def test_a_subclass_constructor_keeps_what_it_set_before_the_base():
    class Sized(Smooth):
        def __init__(self, sigma: int = 2) -> None:
            self.sigma = sigma * 2
            super().__init__()

    ex = Sized(sigma=2)
    assert ex.sigma == 4 and ex.fast is False


def test_declaration_problems_cover_the_new_attributes():
    class Bad(Smooth):
        options = (Option("sigma", "int", 0, "x", minimum=1),)  # no device option either
        n_features = 0
        planewise = "yes"

    problems = "\n".join(declaration_problems(Bad.__new__(Bad)))
    assert "n_features" in problems and "planewise" in problems and "default" in problems

    class NoDevice(Smooth):
        options = (Option("sigma", "int", 2, "x"),)

    assert "supports_device" in " ".join(declaration_problems(NoDevice()))


def test_default_volume_interior_is_the_crop_of_the_volume():
    raw = convpaint.get_extractor("raw")
    vol = np.random.default_rng(0).random((1, 5, 6, 7)).astype(np.float32)
    got = FeatureExtractor.extract_volume_interior(raw, vol, (1, 2, 3))
    np.testing.assert_array_equal(got, vol[:, 1:-1, 2:-2, 3:-3])


def test_builtin_raw_declares_its_contract():
    raw = convpaint.get_extractor("raw")
    assert raw.options == () and raw.get_options() == {}
    assert raw.supports_device is False and raw.planewise is False


def test_declared_options():
    from convpaint.extractor import declared_options

    class Plain(FeatureExtractor):
        name = "plain"

    class Own(FeatureExtractor):
        name = "own"

        def __init__(self, alpha: float = 1.0) -> None:
            self.alpha = alpha

    assert declared_options(Smooth) == Smooth.options
    assert declared_options(Plain) == ()
    assert declared_options(Own) is None  # undeclared keywords: the constructor checks
    assert declared_options(lambda: None) is None
