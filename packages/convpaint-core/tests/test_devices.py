"""``convpaint.devices.resolve_device``: the device option of torch extractors."""

import pytest

from convpaint.devices import resolve_device

torch = pytest.importorskip("torch")


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device().type == expected


@pytest.mark.parametrize("bad", ["gpu0", "cuda:x", "", "meta"])
def test_invalid_names(bad):
    with pytest.raises(ValueError, match="device"):
        resolve_device(bad)


def test_wrong_type():
    with pytest.raises(TypeError, match="device must be a string"):
        resolve_device(0)


def test_unavailable_gpu_is_clear():
    if not torch.cuda.is_available():
        for name in ("cuda", "cuda:1"):
            with pytest.raises(ValueError, match="CUDA is not available"):
                resolve_device(name)
    else:
        n = torch.cuda.device_count()
        with pytest.raises(ValueError, match=f"sees {n} CUDA device"):
            resolve_device(f"cuda:{n}")
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="MPS is not available"):
            resolve_device("mps")
