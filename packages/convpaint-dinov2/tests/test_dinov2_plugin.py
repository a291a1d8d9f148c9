import subprocess
import sys

import pytest

import convpaint
from convpaint.registry import get_registry
from convpaint_dinov2 import UNI, DinoV2


def test_entry_point_registers_both_extractors():
    registry = get_registry(reload=True)
    for name, cls in [("dinov2", DinoV2), ("uni", UNI)]:
        spec = registry.spec(name)
        assert spec.factory is cls
        assert spec.distribution == "convpaint-dinov2"
    assert {"dinov2", "uni"} <= set(convpaint.list_extractors())


def test_plugin_import_does_not_import_torch():
    code = (
        "import sys, convpaint_dinov2.plugin; print('torch' in sys.modules, 'timm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_contract_attributes():
    assert (DinoV2.patch_size, DinoV2.n_input_channels, DinoV2.rgb) == (14, 3, True)
    assert (UNI.patch_size, UNI.n_input_channels, UNI.rgb) == (16, 3, True)
    for cls in (DinoV2, UNI):
        assert cls.tile_size % cls.patch_size == 0
        assert cls.padding % cls.patch_size == 0 and cls.padding >= 2 * cls.patch_size
        assert cls.default_scalings == (1,)
        assert not cls.deterministic  # global attention: tiles change the features


def test_random_weights_warn_and_options_round_trip():
    with pytest.warns(UserWarning, match="random weights"):
        ex = convpaint.get_extractor("dinov2", size="base", weights="random")
    assert ex.get_options() == {"size": "base", "weights": "random"}
    with pytest.warns(UserWarning):
        again = DinoV2(**ex.get_options())
    assert again.timm_spec() == ex.timm_spec()


def test_unknown_size_is_rejected():
    with pytest.raises(ValueError, match="small, base, large, giant"):
        DinoV2(size="tiny", weights="random")
