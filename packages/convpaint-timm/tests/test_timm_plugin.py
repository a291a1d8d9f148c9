from __future__ import annotations

import subprocess
import sys
import warnings

import convpaint
from convpaint.registry import get_registry


def test_entry_point_discovery():
    names = convpaint.list_extractors()
    assert "efficientnet" in names and "convnext" in names
    registry = get_registry(reload=True)
    assert {registry.spec(n).distribution for n in ("efficientnet", "convnext")} == {
        "convpaint-timm"
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ex = convpaint.get_extractor("efficientnet", weights="random", layers=[0, 1])
    assert type(ex).__name__ == "EfficientNetB0Features" and ex.n_features == 40


def test_plugin_import_does_not_import_torch_or_timm():
    code = (
        "import sys, convpaint_timm.plugin as p\n"
        "assert [c.name for c in p.convpaint_extractors()] == ['efficientnet', 'convnext']\n"
        "print(sorted(m for m in ('torch', 'timm', 'huggingface_hub') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
