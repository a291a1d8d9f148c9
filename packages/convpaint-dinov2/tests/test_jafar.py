"""The ``jafar`` upsampler: architecture, checkpoints (strict loading, no pickle), errors."""

from __future__ import annotations

import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import convpaint
from convpaint_dinov2 import WeightsNotFoundError
from convpaint_dinov2.jafar_upsampler import BACKBONES, JafarUpsampler
from convpaint_dinov2.jafar_weights import RELEASE_URL, CheckpointError

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def no_checkpoint_cache(tmp_path, monkeypatch):
    """No test sees the user's torch hub folder or $CONVPAINT_JAFAR_DIR."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("CONVPAINT_JAFAR_DIR", raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


def random_upsampler(**options) -> JafarUpsampler:
    with pytest.warns(UserWarning, match="random weights"):
        return JafarUpsampler(weights="random", device="cpu", **options)


def inputs(h: int, w: int, factor: int, channels: int = 3, n: int = 384, seed: int = 0):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((n, h, w), dtype=np.float32)
    guide = rng.standard_normal((channels, h * factor, w * factor), dtype=np.float32)
    return features, guide


def other_network(seed: int = 1, v_dim: int = 384):
    from convpaint_dinov2.jafar import Jafar

    torch.manual_seed(seed)
    return Jafar(v_dim=v_dim).eval()


def test_plugin_import_does_not_import_torch():
    code = (
        "import sys, convpaint_dinov2.jafar_plugin as p; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "print(p.convpaint_upsamplers()[0].name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "jafar"


def test_entry_point_names_the_plugin_module():
    from importlib.metadata import entry_points

    eps = {ep.name: ep.value for ep in entry_points(group="convpaint.upsamplers")}
    assert eps.get("jafar") == "convpaint_dinov2.jafar_plugin"


@pytest.mark.parametrize(
    ("backbone", "h", "w", "factor", "channels"),
    [
        ("dinov2", 3, 5, 14, 3),
        ("dinov3", 2, 3, 16, 1),
        ("dinov2", 1, 1, 14, 1),
        ("dinov3", 5, 2, 32, 3),
    ],
)
def test_shapes_for_odd_sizes(backbone, h, w, factor, channels):
    up = random_upsampler(backbone=backbone)
    features, guide = inputs(h, w, factor, channels)
    out = up.upsample(features, guide, factor)
    assert out.shape == (384, h * factor, w * factor)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert np.isfinite(out).all()


def test_outputs_are_convex_combinations_of_the_patch_features():
    """The values are the features themselves, mixed by softmax weights."""
    up = random_upsampler()
    features, guide = inputs(4, 3, 14)
    out = up.upsample(features, guide, 14)
    lo = features.min(axis=(1, 2))[:, None, None]
    hi = features.max(axis=(1, 2))[:, None, None]
    assert (out >= lo - 1e-5).all() and (out <= hi + 1e-5).all()
    assert out.std(axis=(1, 2)).mean() > 0  # not one constant vector


def test_deterministic_and_seeded():
    features, guide = inputs(3, 4, 14, seed=3)
    a = random_upsampler().upsample(features, guide, 14)
    b = random_upsampler().upsample(features, guide, 14)
    np.testing.assert_array_equal(a, b)
    assert random_upsampler().deterministic


def test_attention_weights_are_multihead_attention_averaged_over_heads():
    """The checkpoint's projection parameters mean what torch's MultiheadAttention means."""
    net = other_network()
    attn = net.cross_decode.cross_attn
    q, k, v = torch.randn(2, 30, 128), torch.randn(2, 11, 128), torch.randn(2, 11, 384)
    with torch.no_grad():
        _, ref = attn.attention(attn.norm_q(q), attn.norm_k(k), attn.norm_v(v))
        torch.testing.assert_close(attn.weights(q, k), ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(attn(q, k, v), ref @ v, rtol=1e-5, atol=1e-5)


def test_query_chunks_give_the_unchunked_result(monkeypatch):
    from convpaint_dinov2 import jafar

    net = other_network()
    image, coarse = torch.randn(1, 3, 42, 28), torch.randn(1, 384, 3, 2)
    with torch.no_grad():
        whole = net(image, coarse)
        monkeypatch.setattr(jafar, "SCORE_BYTES", 4 * 4 * 6 * 37)  # 37 queries at a time
        chunked = net(image, coarse)
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-6)


def test_windows_tile_the_grid_with_context():
    from convpaint_dinov2.jafar_upsampler import CONTEXT_PATCHES, windows

    for h, w, size in [(1, 1, 32), (33, 70, 32), (9, 5, 2), (7, 7, None)]:
        cover = np.zeros((h, w), int)
        for (r0, r1, c0, c1), (i0, i1, j0, j1) in windows(h, w, size):
            cover[i0:i1, j0:j1] += 1
            assert r0 <= i0 and i1 <= r1 and c0 <= j0 and j1 <= c1
            assert i0 - r0 <= CONTEXT_PATCHES and r1 - i1 <= CONTEXT_PATCHES
            assert (i0 - r0 == CONTEXT_PATCHES or r0 == 0) and (
                r1 - i1 == CONTEXT_PATCHES or r1 == h
            )
        assert (cover == 1).all()
    cores = [core for _, core in windows(36, 54, 32)]
    assert {(i1 - i0, j1 - j0) for i0, i1, j0, j1 in cores} == {(18, 27)}  # balanced


def test_each_window_is_its_context_upsampled():
    """window=2 on 9 x 2 patches: every core equals the network on its context box."""
    from convpaint_dinov2.jafar_upsampler import windows

    up = random_upsampler(window=2)
    features, guide = inputs(9, 2, 14, seed=5)
    out = up.upsample(features, guide, 14)
    whole = random_upsampler(window=None).upsample(features, guide, 14)
    assert not np.allclose(out, whole)  # windows do change the result
    net = up.network
    for (r0, r1, c0, c1), (i0, i1, j0, j1) in windows(9, 2, 2)[::4]:
        with torch.no_grad():
            ref = net(
                torch.from_numpy(guide[:, r0 * 14 : r1 * 14, c0 * 14 : c1 * 14].copy())[None],
                torch.from_numpy(features[:, r0:r1, c0:c1].copy())[None],
            )[0].numpy()
        core = ref[:, (i0 - r0) * 14 : (i1 - r0) * 14, (j0 - c0) * 14 : (j1 - c0) * 14]
        np.testing.assert_array_equal(out[:, i0 * 14 : i1 * 14, j0 * 14 : j1 * 14], core)


def test_any_output_size():
    net = other_network()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 40, 40), torch.randn(1, 384, 4, 4), output_size=(13, 21))
    assert out.shape == (1, 384, 13, 21)


def save_training_checkpoint(path: Path, state: dict) -> None:
    """Like the authors' release files: the network beside an optimizer and a config object
    whose class is unavailable when loading (OmegaConf is not installed here)."""
    module = types.ModuleType("jafar_test_config")

    class DictConfig:
        def __init__(self, content):
            self.content = content

    DictConfig.__module__ = module.__name__
    DictConfig.__qualname__ = "DictConfig"
    module.DictConfig = DictConfig
    sys.modules[module.__name__] = module
    try:
        torch.save(
            {
                "optimizer_jafar": {"state": {0: {"exp_avg": torch.zeros(4)}}, "param_groups": []},
                "epoch": 3,
                "cfg": DictConfig({"model": {"qk_dim": 128}}),
                "jafar": state,
            },
            path,
        )
    finally:
        del sys.modules[module.__name__]


@pytest.mark.parametrize("kind", ["release", "state_dict", "safetensors"])
def test_checkpoint_round_trip_strict(tmp_path, kind):
    net = other_network(seed=7)
    state = net.state_dict()
    if kind == "release":
        path = tmp_path / "vit_small_patch14_reg4_dinov2.pth"
        save_training_checkpoint(path, state)
    elif kind == "state_dict":
        path = tmp_path / "jafar.pth"
        torch.save(state, path)
    else:
        from safetensors.torch import save_file

        path = tmp_path / "jafar.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    up = JafarUpsampler(weights=path, device="cpu")
    loaded = up.network.state_dict()
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)
    features, guide = inputs(2, 3, 14)
    with torch.no_grad():
        ref = net(torch.from_numpy(guide)[None], torch.from_numpy(features)[None])[0].numpy()
    np.testing.assert_array_equal(up.upsample(features, guide, 14), ref)
    assert up.get_options() == {
        "weights": str(path),
        "backbone": "vit_small_patch14_reg4_dinov2",
        "window": 32,
    }


def test_checkpoint_is_read_without_running_pickled_code(tmp_path, monkeypatch):
    """A global that plain unpickling would call (importable here) is replaced, not called;
    globals that torch blocks outright (os, posix ...) make the load fail, naming the file."""
    import os

    marker = tmp_path / "made-by-pickle"
    module = types.ModuleType("jafar_test_payload")

    def make(path):
        Path(path).touch()
        return path

    make.__module__ = module.__name__
    make.__qualname__ = "make"
    module.make = make
    monkeypatch.setitem(sys.modules, module.__name__, module)

    class Payload:
        def __reduce__(self):
            return (make, (str(marker),))

    class Blocked:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path = tmp_path / "payload.pth"
    torch.save({"jafar": other_network().state_dict(), "extra": Payload()}, path)
    up = JafarUpsampler(weights=path, device="cpu")
    assert up.network is not None and not marker.exists()
    torch.save({"jafar": other_network().state_dict(), "extra": Blocked()}, path)
    with pytest.raises(
        CheckpointError, match=r"cannot read JAFAR checkpoint.*GLOBAL posix\.mkdir.*refused"
    ):
        _ = JafarUpsampler(weights=path, backbone="dinov3", device="cpu").network
    assert not marker.exists()


def test_wrong_keys_are_named(tmp_path):
    state = other_network().state_dict()
    state["cross_decode.extra.weight"] = state.pop("sft_key.gamma.weight")
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    up = JafarUpsampler(weights=path, device="cpu")
    with pytest.raises(CheckpointError, match=r"missing: sft_key\.gamma\.weight.*unexpected: "):
        up.upsample(*inputs(2, 2, 14), 14)


def test_not_a_jafar_checkpoint(tmp_path):
    path = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(CheckpointError, match="not a JAFAR checkpoint.*image_encoder"):
        _ = JafarUpsampler(weights=path, device="cpu").network
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read JAFAR checkpoint"):
        _ = JafarUpsampler(weights=path, device="cpu").network


def test_checkpoint_of_another_backbone_width(tmp_path):
    path = tmp_path / "base.pth"
    torch.save(other_network(v_dim=768).state_dict(), path)
    up = JafarUpsampler(weights=path, backbone="dinov3", device="cpu")
    with pytest.raises(ValueError, match="upsamples 768 features.*has 384"):
        _ = up.network


def test_missing_release_file_offline_names_folders_and_url(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVPAINT_JAFAR_DIR", str(tmp_path / "mine"))
    with pytest.raises(WeightsNotFoundError) as info:
        JafarUpsampler(backbone="dinov3")
    message = str(info.value)
    assert "HF_HUB_OFFLINE" in message
    assert str(tmp_path / "mine") in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert RELEASE_URL + "vit_small_plus_patch16_dinov3.lvd1689m.pth" in message


def test_release_file_found_in_the_cache_folders(tmp_path, monkeypatch, no_checkpoint_cache):
    name = BACKBONES["vit_small_patch14_reg4_dinov2"].filename
    no_checkpoint_cache.mkdir(parents=True)
    torch.save(other_network().state_dict(), no_checkpoint_cache / name)
    assert JafarUpsampler().weights_file == no_checkpoint_cache / name
    mine = tmp_path / "mine"
    mine.mkdir()
    torch.save(other_network().state_dict(), mine / name)
    monkeypatch.setenv("CONVPAINT_JAFAR_DIR", str(mine))
    up = JafarUpsampler(backbone="dinov2")
    assert up.weights_file == mine / name
    assert up.get_options()["weights"] is None


def test_missing_explicit_file(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="does not exist.*vit_small_patch14_reg4"):
        JafarUpsampler(weights=tmp_path / "nope.pth")


def test_registered_in_convpaint():
    import convpaint

    assert "jafar" in convpaint.list_upsamplers()
    with pytest.warns(UserWarning, match="random weights"):
        up = convpaint.get_upsampler("jafar", weights="random", backbone="dinov3")
    assert isinstance(up, JafarUpsampler) and up.context(16) == 64 and up.context(32) == 128


def test_bad_inputs_are_named():
    up = random_upsampler()
    features, guide = inputs(2, 3, 14)
    with pytest.raises(ValueError, match="384 features per patch.*got 100.*backbone="):
        up.upsample(features[:100], guide, 14)
    with pytest.raises(ValueError, match="does not cover"):
        up.upsample(features, guide[:, :-1], 14)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        up.upsample(features, guide[:2], 14)
    with pytest.raises(ValueError, match="positive integer"):
        up.upsample(features, guide, 0)
    bad = features.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        up.upsample(bad, guide, 14)
    with pytest.raises(ValueError, match="backbone must be one of dinov2, dinov3"):
        JafarUpsampler(weights="random", backbone="vgg16")
    with pytest.raises(ValueError, match="device"):
        JafarUpsampler(weights="random", device="tpu")
    with pytest.raises(ValueError, match="window must be an integer >= 0 or None"):
        JafarUpsampler(weights="random", window=-1)
    assert JafarUpsampler(weights="random", window=0).window is None  # one global window
    with pytest.raises(ValueError, match="option 'window' of upsampler 'jafar'"):
        convpaint.get_upsampler("jafar", weights="random", window=-1)  # the schema's check


def test_options_rebuild_the_same_upsampler():
    up = random_upsampler(backbone="dinov3")
    assert up.get_options() == {
        "weights": "random",
        "backbone": "vit_small_plus_patch16_dinov3.lvd1689m",
        "window": 32,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = JafarUpsampler(**up.get_options())
    features, guide = inputs(2, 2, 16)
    np.testing.assert_array_equal(
        up.upsample(features, guide, 16), again.upsample(features, guide, 16)
    )
    assert "jafar" in repr(up) or "Jafar" in repr(up)


@pytest.mark.slow
def test_model_trains_segments_and_reloads_with_jafar(tmp_path):
    import convpaint

    rng = np.random.default_rng(0)
    image = rng.random((40, 52, 3)).astype(np.float32)
    image[:, :26] += 1.0
    scribbles = np.zeros((40, 52), np.uint8)
    scribbles[5:35, 5] = 1
    scribbles[5:35, 45] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = convpaint.ConvpaintModel(
            "dinov2", weights="random", upsampler="jafar", upsampler_options={"weights": "random"}
        )
        model.train(image, scribbles)
        labels = model.segment(image)
        model.save(tmp_path / "m.npz")
        again = convpaint.load_model(tmp_path / "m.npz")
        assert isinstance(again.upsampler, JafarUpsampler)
        np.testing.assert_array_equal(again.segment(image), labels)
    assert labels.shape == (40, 52) and set(np.unique(labels)) <= {1, 2}
