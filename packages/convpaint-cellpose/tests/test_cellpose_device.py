"""The ``device`` option of ``cellpose`` (no GPU needed)."""

import warnings

import pytest
import torch

from convpaint_cellpose import Cellpose


def make(**options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return Cellpose(weights="random", **options)


def test_auto_is_cpu_without_gpu(random_cellpose):
    assert random_cellpose.device == "auto"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert random_cellpose._device.type == expected
    assert next(random_cellpose.network.parameters()).device.type == expected
    assert "device" not in random_cellpose.get_options()


def test_explicit_cpu_shares_the_network(random_cellpose):
    if torch.cuda.is_available():
        pytest.skip("auto is CUDA here")
    ex = make(device="cpu")
    assert ex.network is random_cellpose.network  # same (source, device): built once


def test_unavailable_or_bad_device():
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            make(device="cuda:0")
    with pytest.raises(ValueError, match="invalid device"):
        make(device="gpu0")
