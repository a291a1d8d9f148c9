from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from scipy import ndimage
from vgg_testutils import random_plane

from convpaint_vgg import VGG16Features, WeightsLoadError, WeightsNotFoundError
from convpaint_vgg.weights import default_weights_path, weights_filename, weights_url

FILENAME = "vgg16-397923af.pth"


def _known_state(prefix="features.", last=0, seed=0):
    """A checkpoint with distinctive values for the convs up to ``last``."""
    from convpaint_vgg.network import CONV_LAYERS

    g = torch.Generator().manual_seed(seed)
    state = {}
    for i, c in CONV_LAYERS.items():
        if i <= last:
            state[f"{prefix}{i}.weight"] = torch.randn(
                c.out_channels, c.in_channels, 3, 3, generator=g
            )
            state[f"{prefix}{i}.bias"] = torch.randn(c.out_channels, generator=g)
    return state


def _manual_conv(plane, weight, bias):
    """Reference 3x3 'same' cross-correlation with zero padding, in float64."""
    plane = plane.astype(np.float64)
    out = np.empty((weight.shape[0], *plane.shape[1:]))
    for o in range(weight.shape[0]):
        acc = np.full(plane.shape[1:], float(bias[o]))
        for c in range(weight.shape[1]):
            acc += ndimage.correlate(plane[c], weight[o, c].astype(np.float64), mode="constant")
        out[o] = acc
    return out


def test_filename_and_url_from_torchvision():
    assert weights_filename() == FILENAME
    assert weights_url().endswith("/" + FILENAME)


def test_default_path_follows_torch_home(tmp_path, monkeypatch):
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # let get_dir() read TORCH_HOME
    assert default_weights_path() == tmp_path / "hub" / "checkpoints" / FILENAME


def test_hub_cache_weights_are_used(hub_dir):
    state = _known_state()
    (hub_dir / "checkpoints").mkdir(parents=True)
    torch.save(state, hub_dir / "checkpoints" / FILENAME)
    ex = VGG16Features()
    assert ex.weights_path == hub_dir / "checkpoints" / FILENAME
    assert ex.get_options()["weights"] is None
    plane = random_plane(37, 53)
    want = _manual_conv(plane, state["features.0.weight"].numpy(), state["features.0.bias"].numpy())
    np.testing.assert_allclose(ex.extract(plane), want, rtol=0, atol=1e-4)


def test_explicit_pth_path_features_only_keys(tmp_path):
    state = _known_state(prefix="", last=2, seed=1)
    path = tmp_path / "mine.pth"
    torch.save(state, path)
    ex = VGG16Features(layers=[0, 2], weights=str(path))
    assert ex.get_options()["weights"] == str(path)
    for key, value in ex._trunk.state_dict().items():
        assert torch.equal(value, state[key])
    plane = random_plane(20, 24)
    want = _manual_conv(plane, state["0.weight"].numpy(), state["0.bias"].numpy())
    np.testing.assert_allclose(ex.extract(plane)[:64], want, rtol=0, atol=1e-4)


def test_legacy_and_safetensors_formats(tmp_path):
    pytest.importorskip("safetensors")
    from safetensors.torch import save_file

    state = _known_state(last=5, seed=2)
    legacy = tmp_path / "legacy.pth"
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    safe = tmp_path / "w.safetensors"
    save_file(state, safe)
    plane = random_plane(16, 18)
    a = VGG16Features(layers=[0, 5], weights=legacy).extract(plane)
    b = VGG16Features(layers=[0, 5], weights=safe).extract(plane)
    assert np.array_equal(a, b)


def test_cached_tensors_are_not_shared(tmp_path):
    path = tmp_path / "w.pth"
    torch.save(_known_state(), path)
    first = VGG16Features(weights=path)
    with torch.no_grad():
        first._trunk[0].weight.zero_()
    second = VGG16Features(weights=path)
    assert second._trunk[0].weight.abs().sum() > 0


def test_missing_hub_weights_error_without_network(hub_dir, monkeypatch):
    import torch.hub

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsNotFoundError) as info:
        VGG16Features()
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert FILENAME in message
    assert str(hub_dir / "checkpoints") in message
    assert "weights=PATH" in message and "download" in message


def test_missing_explicit_path(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="nothere.pth"):
        VGG16Features(weights=tmp_path / "nothere.pth")


def test_corrupt_file(tmp_path):
    bad = tmp_path / FILENAME
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(WeightsLoadError, match=str(bad)):
        VGG16Features(weights=bad)


def test_truncated_file(tmp_path):
    path = tmp_path / "trunc.pth"
    torch.save(_known_state(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsLoadError, match="trunc.pth"):
        VGG16Features(weights=path)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({**_known_state(), "extra": _Custom()}, path)  # complete apart from the object
    with pytest.raises(WeightsLoadError, match="cannot read .*evil.pth"):
        VGG16Features(weights=path)


class _Custom:
    pass


def test_missing_layer_tensors(tmp_path):
    path = tmp_path / "short.pth"
    torch.save(_known_state(last=0), path)
    with pytest.raises(WeightsLoadError, match=r"2\.weight"):
        VGG16Features(layers=[2], weights=path)


def test_wrong_shapes(tmp_path):
    path = tmp_path / "shape.pth"
    torch.save({"0.weight": torch.zeros(64, 1, 3, 3), "0.bias": torch.zeros(64)}, path)
    with pytest.raises(WeightsLoadError, match="shape.pth"):
        VGG16Features(weights=path)


def test_download_option_uses_torch_hub(hub_dir, monkeypatch):
    import torch.hub

    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, hash_prefix))
        torch.save(_known_state(), dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    ex = VGG16Features(download=True)
    assert calls == [(weights_url(), "397923af")]
    assert ex.weights_path == hub_dir / "checkpoints" / FILENAME
    assert "download" not in ex.get_options()
    VGG16Features(download=True)  # present now: no second download
    assert len(calls) == 1
    with pytest.raises(ValueError, match="download=True"):
        VGG16Features(weights="random", download=True)


def test_cli_path(hub_dir, capsys):
    from convpaint_vgg.__main__ import main

    assert main(["path"]) == 0
    out = capsys.readouterr().out
    assert os.fspath(hub_dir / "checkpoints" / FILENAME) in out and "missing" in out
