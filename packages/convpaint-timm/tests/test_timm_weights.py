from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from timm_testutils import random_plane

from convpaint_timm import (
    ConvNeXtTinyFeatures,
    EfficientNetB0Features,
    WeightsLoadError,
    WeightsNotFoundError,
)
from convpaint_timm.weights import checkpoint_key, repo_cache_folder

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _full_model(name: str):
    """A timm classification model with its own random init (distinct from ours)."""
    import timm

    with torch.random.fork_rng():
        torch.manual_seed(7)
        if name == "convnext_tiny":  # stages 0-1 as in convnext_tiny, fewer deep blocks
            return timm.create_model(name, depths=(3, 3, 1, 1)).eval()
        return timm.create_model(name).eval()


def _save(state, path):
    from safetensors.torch import save_file

    if path.suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    else:
        torch.save(state, path)
    return path


def _put_in_hf_cache(cache, repo_id, state):
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(REVISION)
    snapshot = folder / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    return _save(state, snapshot / "model.safetensors")


@pytest.mark.parametrize(
    ("cls", "arch", "layers"),
    [
        (EfficientNetB0Features, "efficientnet_b0", [0, 2]),
        (ConvNeXtTinyFeatures, "convnext_tiny", [0, 1]),
    ],
)
def test_timm_checkpoint_gives_timm_features(cls, arch, layers, tmp_path):
    # a full timm state dict (head included) loads into the truncated trunk, and the
    # trunk returns what timm's own forward_intermediates returns for those stages
    full = _full_model(arch)
    path = _save(full.state_dict(), tmp_path / "w.safetensors")
    ex = cls(layers=layers, weights=path, device="cpu")
    assert ex.weights_path == path and ex.get_options()["weights"] == str(path)
    x = torch.from_numpy(random_plane(64, 48))[None]
    with torch.inference_mode():
        ours = ex._trunk(x)
        theirs = full.forward_intermediates(x, indices=layers, intermediates_only=True)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    out = ex.extract(random_plane(37, 29))
    assert out.shape == (ex.n_features, 37, 29) and np.isfinite(out).all()


def test_hf_cache_is_used(hf_cache):
    state = _full_model("efficientnet_b0").state_dict()
    path = _put_in_hf_cache(hf_cache, EfficientNetB0Features.hub_repo, state)
    ex = EfficientNetB0Features(layers=[0])
    assert ex.weights_path == path
    assert ex.get_options() == {"layers": [0], "weights": None}
    for key, value in ex._trunk.state_dict().items():
        assert torch.equal(value, state[checkpoint_key(key)]), key


def test_trunk_keys_and_pth_format(tmp_path):
    # a checkpoint of the trunk itself (FeatureListNet keys "stem_0.weight") loads as well
    full = _full_model("convnext_tiny")
    reference = ConvNeXtTinyFeatures(
        layers=[0], weights=_save(full.state_dict(), tmp_path / "a.pth")
    )
    trunk_state = reference._trunk.state_dict()
    assert "stem_0.weight" in trunk_state
    again = ConvNeXtTinyFeatures(layers=[0], weights=_save(dict(trunk_state), tmp_path / "b.pth"))
    plane = random_plane(20, 24)
    assert np.array_equal(reference.extract(plane), again.extract(plane))


def test_missing_cache_offline_names_where_it_looked(hf_cache):
    with pytest.raises(WeightsNotFoundError) as info:
        ConvNeXtTinyFeatures()
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(repo_cache_folder("timm/convnext_tiny.in12k_ft_in1k")) in message
    assert str(hf_cache) in message and "HF_HUB_OFFLINE" in message
    assert "weights=PATH" in message


def test_download_failure_is_reported(hf_cache, monkeypatch):
    import huggingface_hub

    def no_network(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    with pytest.raises(WeightsNotFoundError, match="download failed: ConnectionError: no route"):
        EfficientNetB0Features()


def test_missing_explicit_path(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="nothere.pth"):
        EfficientNetB0Features(weights=tmp_path / "nothere.pth")


def test_corrupt_and_truncated_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(WeightsLoadError, match="bad.safetensors"):
        EfficientNetB0Features(weights=bad)
    path = _save(_full_model("efficientnet_b0").state_dict(), tmp_path / "trunc.pth")
    path.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])
    with pytest.raises(WeightsLoadError, match="trunc.pth"):
        EfficientNetB0Features(weights=path)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({**_full_model("efficientnet_b0").state_dict(), "extra": _Custom()}, path)
    with pytest.raises(WeightsLoadError, match="cannot read .*evil.pth"):
        EfficientNetB0Features(weights=path)


class _Custom:
    pass


def test_missing_and_misshapen_tensors(tmp_path):
    state = _full_model("efficientnet_b0").state_dict()
    short = {k: v for k, v in state.items() if not k.startswith("blocks.1.")}
    with pytest.raises(WeightsLoadError, match=r"lacks tensors blocks\.1\.0"):
        EfficientNetB0Features(layers=[1], weights=_save(short, tmp_path / "short.pth"))
    EfficientNetB0Features(layers=[0], weights=tmp_path / "short.pth")  # stage 0 needs none
    state["conv_stem.weight"] = torch.zeros(32, 1, 3, 3)
    with pytest.raises(WeightsLoadError, match="does not match timm's efficientnet_b0"):
        EfficientNetB0Features(layers=[0], weights=_save(state, tmp_path / "shape.pth"))


def test_cli_path(hf_cache, capsys):
    from convpaint_timm.__main__ import main

    assert main(["path", "convnext"]) == 0
    out = capsys.readouterr().out
    assert "convnext:" in out and "missing" in out and str(hf_cache) in out
    with pytest.raises(SystemExit):
        main(["path", "vgg16"])
