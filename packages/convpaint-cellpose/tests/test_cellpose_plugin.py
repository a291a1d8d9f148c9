import subprocess
import sys

import pytest

from convpaint.registry import get_registry
from convpaint_cellpose import Cellpose


def test_entry_point_registers_cellpose():
    spec = get_registry(reload=True).spec("cellpose")
    assert spec.factory is Cellpose
    assert spec.distribution == "convpaint-cellpose"


def test_plugin_import_does_not_import_torch_or_cellpose():
    code = "import sys, convpaint_cellpose.plugin; print('torch' in sys.modules, 'cellpose' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_contract_attributes():
    assert Cellpose.n_input_channels == 3 and Cellpose.patch_size == 1
    assert Cellpose.alignment == 8 and Cellpose.tile_size % 8 == 0 and Cellpose.padding % 8 == 0
    assert not Cellpose.rgb  # cellpose's own percentile normalisation is used
    assert not Cellpose.deterministic  # the window layout depends on the tile


def test_options_round_trip_and_validation():
    with pytest.warns(UserWarning, match="random weights"):
        ex = Cellpose(weights="random", features="output", precision="bfloat16")
    assert ex.get_options() == {"weights": "random", "features": "output", "precision": "bfloat16"}
    assert ex.n_features == 3
    with pytest.raises(ValueError, match="both, encoder, output"):
        Cellpose(weights="random", features="flows")
    with pytest.raises(ValueError, match="float32, bfloat16"):
        Cellpose(weights="random", precision="half")
