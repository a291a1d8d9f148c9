"""The ``device`` option of ``dinov2`` and ``uni`` (no GPU needed)."""

import numpy as np
import pytest
import torch
from dinov2_testutils import random_extractor

from convpaint_dinov2 import UNI, DinoV2


def test_cpu_and_auto():
    plane = np.random.default_rng(0).normal(size=(3, 28, 42)).astype(np.float32)
    cpu = random_extractor(DinoV2, device="cpu")
    auto = random_extractor(DinoV2)
    assert cpu.device == "cpu" and auto.device == "auto"
    assert next(cpu.network.parameters()).device.type == "cpu"
    if not torch.cuda.is_available():
        assert auto._device.type == "cpu"
        np.testing.assert_array_equal(cpu.extract(plane), auto.extract(plane))
    assert "device" not in cpu.get_options()  # where, not what: a saved model loads anywhere


@pytest.mark.parametrize("cls", [DinoV2, UNI])
def test_unavailable_or_bad_device(cls):
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            random_extractor(cls, device="cuda")
    with pytest.raises(ValueError, match="invalid device"):
        random_extractor(cls, device="gpu0")
