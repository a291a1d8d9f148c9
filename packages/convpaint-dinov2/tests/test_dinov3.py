"""The ``dinov3`` extractor: architecture, weights (file, hub cache, Meta keys), model files, tiles."""

import copy

import numpy as np
import pytest
import timm
import torch
from dinov2_testutils import random_extractor, write_hub_file
from safetensors.torch import save_file

import convpaint
from convpaint.registry import get_registry
from convpaint_dinov2 import DinoV3, WeightsNotFoundError
from convpaint_dinov2.dinov3 import ARCHITECTURES, DEFAULT, MODELS
from convpaint_dinov2.vit import build_network

REPO = "timm/vit_small_plus_patch16_dinov3.lvd1689m"
PLANE = np.random.default_rng(3).normal(size=(3, 48, 64)).astype(np.float32)


@pytest.fixture(scope="module")
def random_v3():
    return random_extractor(DinoV3)


@pytest.mark.parametrize("shape", [(48, 80), (16, 16), (80, 32)])
def test_patch_grid_shapes(random_v3, shape):
    plane = np.random.default_rng(0).normal(size=(3, *shape)).astype(np.float32)
    feats = random_v3.extract(plane)
    assert feats.shape == (384, shape[0] // 16, shape[1] // 16)
    assert feats.dtype == np.float32 and np.isfinite(feats).all() and feats.std() > 0


def test_architecture_is_vit_s_plus_with_four_registers(random_v3):
    net = random_v3.network
    assert type(net).__name__ == "Eva" and len(net.blocks) == 12 and net.embed_dim == 384
    assert net.num_prefix_tokens == 5 and net.reg_token.shape[1] == 4  # class + 4 registers
    assert net.rope is not None and net.pos_embed is None  # RoPE, no absolute positions
    assert (DinoV3.patch_size, DinoV3.n_input_channels, DinoV3.rgb) == (16, 3, True)
    assert DinoV3.tile_size % 16 == 0 and DinoV3.padding % 16 == 0 and not DinoV3.deterministic


def test_patch_tokens_follow_the_image(random_v3):
    """Registers are dropped and tokens come in raster order: a bright patch moves its own most."""
    plane = np.zeros((3, 64, 96), np.float32)
    base = random_v3.extract(plane)
    plane[:, 32:48, 16:32] = 3.0  # patch (2, 1)
    diff = np.abs(random_v3.extract(plane) - base).sum(axis=0)
    assert np.unravel_index(diff.argmax(), diff.shape) == (2, 1)


def test_model_table_matches_timm():
    published = {m for m in timm.list_models("vit_*dinov3*", pretrained=True) if ".eupe" not in m}
    assert set(MODELS) == published and DEFAULT in MODELS
    for arch, width in ARCHITECTURES.items():
        with torch.device("meta"):
            assert timm.create_model(arch, num_classes=0).embed_dim == width, arch


def test_model_option_and_bad_names():
    with pytest.warns(UserWarning, match="random weights"):
        ex = convpaint.get_extractor(
            "dinov3", model="vit_base_patch16_dinov3.lvd1689m", weights="random"
        )
    assert ex.n_features == 768 and ex.hub_repo == "timm/vit_base_patch16_dinov3.lvd1689m"
    assert ex.get_options() == {"model": "vit_base_patch16_dinov3.lvd1689m", "weights": "random"}
    assert ex.timm_spec()[0] == "vit_base_patch16_dinov3"
    with pytest.raises(ValueError, match="vit_small_plus_patch16_dinov3.lvd1689m"):
        DinoV3(model="vit_small_patch16_dinov3.sat493m", weights="random")  # no such weights
    with pytest.raises(ValueError, match="dinov3 model must be one of"):
        DinoV3(model="vit_small_patch14_reg4_dinov2.lvd142m", weights="random")
    with pytest.raises(TypeError, match="timm model name"):
        DinoV3(model=384, weights="random")


def test_timm_without_dinov3_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(timm, "is_model", lambda name: False)
    ex = random_extractor(DinoV3, model="vit_large_patch16_dinov3.lvd1689m")
    with pytest.raises(ImportError, match="not in the installed timm .*newer timm"):
        ex.network  # noqa: B018


def test_registered_by_the_plugin():
    spec = get_registry(reload=True).spec("dinov3")
    assert spec.factory is DinoV3 and spec.distribution == "convpaint-dinov2"


# -- weights ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(random_v3):
    """A ViT-S+/16 state dict (timm keys) unlike the seeded random init, and its features."""
    net = copy.deepcopy(random_v3.network)
    state = {k: v.clone().contiguous() for k, v in net.state_dict().items()}
    state["patch_embed.proj.bias"] = torch.linspace(-1, 1, 384)
    state["blocks.0.gamma_1"] = torch.full((384,), 0.5)
    net.load_state_dict(state)
    with torch.inference_mode():
        tokens = net.forward_features(torch.from_numpy(PLANE)[None])[0, 5:]
    return state, tokens.reshape(3, 4, 384).permute(2, 0, 1).numpy()


def check_uses(ex, checkpoint):
    state, expected = checkpoint
    torch.testing.assert_close(ex.network.patch_embed.proj.bias, state["patch_embed.proj.bias"])
    assert not ex.network.rope.periods.is_meta  # RoPE periods are derived, not stored
    np.testing.assert_allclose(ex.extract(PLANE), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_from_explicit_file(tmp_path, checkpoint, suffix):
    path = tmp_path / f"dinov3{suffix}"
    if suffix == ".safetensors":
        save_file(checkpoint[0], path)
    else:
        torch.save({"model": checkpoint[0]}, path)  # a wrapped training checkpoint
    ex = DinoV3(weights=path)
    assert ex.weights_file == path and ex.get_options()["weights"] == str(path)
    check_uses(ex, checkpoint)


def to_meta_keys(state):
    """Rename timm keys to those of Meta's DINOv3 release (storage_tokens, ls1.gamma, w1..w3)."""
    renames = [
        ("reg_token", "storage_tokens"),
        ("gamma_1", "ls1.gamma"),
        ("gamma_2", "ls2.gamma"),
        ("mlp.fc1_g", "mlp.w1"),
        ("mlp.fc1_x", "mlp.w2"),
        ("mlp.fc2", "mlp.w3"),
    ]
    out = {}
    for key, value in state.items():
        for old, new in renames:
            key = key.replace(old, new)
        out[key] = value
        if key.endswith("attn.qkv.weight"):  # masked, all-zero qkv bias of the release
            out[key.replace("weight", "bias")] = torch.zeros(3 * 384)
            out[key.replace("weight", "bias_mask")] = torch.ones(3 * 384)
    out["mask_token"] = torch.zeros(1, 384)
    out["rope_embed.periods"] = torch.ones(16)
    return out


def test_meta_release_keys_are_converted(tmp_path, checkpoint, capsys):
    path = tmp_path / "dinov3_vits16plus_pretrain_lvd1689m.pth"
    torch.save(to_meta_keys(checkpoint[0]), path)
    check_uses(DinoV3(weights=path), checkpoint)
    assert capsys.readouterr().out == ""  # timm's diagnostic prints are silenced


def test_wrong_architecture_fails_loudly(tmp_path):
    path = tmp_path / "dinov2.safetensors"
    save_file({"pos_embed": torch.zeros(1, 5, 384)}, path)
    with pytest.raises(RuntimeError, match="Missing key"):
        DinoV3(weights=path).network  # noqa: B018


def test_weights_from_hugging_face_cache(offline_hf, checkpoint):
    path = write_hub_file(
        offline_hf, REPO, "model.safetensors", lambda p: save_file(checkpoint[0], p)
    )
    ex = DinoV3()
    assert ex.weights_file == path and ex.get_options() == {"model": DEFAULT, "weights": None}
    check_uses(ex, checkpoint)


@pytest.mark.parametrize("model", [DEFAULT, "vit_large_patch16_dinov3.sat493m"])
def test_offline_without_cache_names_file_and_folder(offline_hf, model):
    with pytest.raises(WeightsNotFoundError) as info:
        DinoV3(model=model)
    message = str(info.value)
    assert str(offline_hf / "hub" / f"models--timm--{model}") in message
    assert "model.safetensors" in message and "HF_HUB_OFFLINE" in message
    assert "weights=PATH" in message


def test_missing_explicit_file_is_named(tmp_path):
    path = tmp_path / "sub" / "dinov3_vits16plus.pth"
    with pytest.raises(WeightsNotFoundError, match=str(path)):
        DinoV3(weights=path)


# -- through ConvpaintModel ------------------------------------------------------------------


def blob_image(shape):
    rng = np.random.default_rng(0)
    ny, nx = shape
    image = rng.normal(0.2, 0.05, shape).astype(np.float32)
    image[ny // 4 : 3 * ny // 4, nx // 4 : 3 * nx // 4] += 0.6
    ann = np.zeros(shape, np.uint8)
    ann[2:8, 2 : nx - 2] = 1
    ann[ny // 2 - 3 : ny // 2 + 3, nx // 3 : 2 * nx // 3] = 2
    return image, ann


@pytest.mark.filterwarnings("ignore:.*random:UserWarning")
def test_model_file_round_trip(tmp_path):
    image, ann = blob_image((90, 130))
    model = convpaint.ConvpaintModel("dinov3", weights="random", n_estimators=8)
    labels = model.train(image, ann).segment(image)
    assert labels.shape == image.shape
    assert (labels[40:50, 60:70] == 2).mean() > 0.9 and (labels[:4, :4] == 1).all()
    again = convpaint.load_model(model.save(tmp_path / "dinov3.npz"))
    assert again.extractor.get_options() == {"model": DEFAULT, "weights": "random"}
    np.testing.assert_array_equal(again.segment(image), labels)
    np.testing.assert_array_equal(again.predict_proba(image), model.predict_proba(image))


@pytest.mark.filterwarnings("ignore:.*random:UserWarning")
def test_lazy_tiles_equal_in_memory():
    """dask input, tiles of 64 px (2 x 2 tiles, the last ones under the 64 px halo) == numpy."""
    da = pytest.importorskip("dask.array")
    image, ann = blob_image((70, 100))
    model = convpaint.ConvpaintModel("dinov3", weights="random", n_estimators=8, tile_size=64)
    proba = model.train(image, ann).predict_proba(image)
    lazy = da.from_array(image, chunks=(35, 50))
    assert np.abs(model.predict_proba(lazy).compute() - proba).max() <= 1e-6


def test_network_is_built_once_when_tiles_run_in_threads(monkeypatch, random_v3):
    """Tiles ask for the network from worker threads: one build, and the seeded weights."""
    from concurrent.futures import ThreadPoolExecutor

    from convpaint_dinov2 import vit

    builds = []

    def counting(*args):
        builds.append(args)
        return build_network.__wrapped__(*args)

    monkeypatch.setattr(vit, "build_network", counting)
    ex = random_extractor(DinoV3)
    with ThreadPoolExecutor(4) as pool:
        nets = list(pool.map(lambda _: ex.network, range(4)))
    assert len(builds) == 1 and all(net is nets[0] for net in nets)
    assert nets[0] is not random_v3.network  # rebuilt, not cached: random weights reproduce
    np.testing.assert_array_equal(ex.extract(PLANE), random_v3.extract(PLANE))
