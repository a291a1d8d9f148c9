from __future__ import annotations

import subprocess
import sys
import warnings

import convpaint
from convpaint.registry import get_registry


def test_entry_point_discovery():
    assert "vgg16" in convpaint.list_extractors()
    spec = get_registry(reload=True).spec("vgg16")
    assert spec.distribution == "convpaint-vgg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ex = convpaint.get_extractor("vgg16", weights="random", layers=[0, 2])
    assert type(ex).__name__ == "VGG16Features" and ex.n_features == 128


def test_plugin_import_does_not_import_torch():
    code = (
        "import sys, convpaint_vgg.plugin as p\n"
        "assert p.convpaint_extractors()[0].name == 'vgg16'\n"
        "bad = sorted(m for m in ('torch', 'torchvision') if m in sys.modules)\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
