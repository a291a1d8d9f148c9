import numpy as np
import pytest
import timm
import torch
from dinov2_testutils import write_hub_file
from safetensors.torch import save_file

from convpaint_dinov2 import UNI, DinoV2, WeightsNotFoundError

REPO = "timm/vit_small_patch14_reg4_dinov2.lvd142m"
PLANE = np.random.default_rng(3).normal(size=(3, 42, 56)).astype(np.float32)


@pytest.fixture(scope="module")
def checkpoint():
    """A DINOv2-S state dict that differs from the seeded random init in known tensors."""
    torch.manual_seed(123)
    net = timm.create_model("vit_small_patch14_reg4_dinov2", num_classes=0, dynamic_img_size=True)
    state = {k: v.clone().contiguous() for k, v in net.state_dict().items()}
    state["patch_embed.proj.bias"] = torch.linspace(-1, 1, 384)
    net.load_state_dict(state)
    with torch.inference_mode():
        x = torch.from_numpy(PLANE)[None]
        expected = net.forward_features(x)[0, 5:].reshape(3, 4, 384).permute(2, 0, 1).numpy()
    return state, expected


def check_uses(ex, checkpoint):
    state, expected = checkpoint
    torch.testing.assert_close(ex.network.patch_embed.proj.bias, state["patch_embed.proj.bias"])
    np.testing.assert_allclose(ex.extract(PLANE), expected, rtol=1e-5, atol=1e-5)


def test_weights_from_hugging_face_cache(offline_hf, checkpoint):
    path = write_hub_file(
        offline_hf, REPO, "model.safetensors", lambda p: save_file(checkpoint[0], p)
    )
    ex = DinoV2()
    assert ex.weights_file == path
    assert ex.get_options() == {"size": "small", "weights": None}
    check_uses(ex, checkpoint)


def test_cache_with_only_pytorch_bin(offline_hf, checkpoint):
    path = write_hub_file(
        offline_hf, REPO, "pytorch_model.bin", lambda p: torch.save(checkpoint[0], p)
    )
    ex = DinoV2()
    assert ex.weights_file == path
    check_uses(ex, checkpoint)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_from_explicit_file(tmp_path, checkpoint, suffix):
    path = tmp_path / f"dino{suffix}"
    if suffix == ".safetensors":
        save_file(checkpoint[0], path)
    else:
        torch.save({"model": checkpoint[0]}, path)  # a wrapped training checkpoint
    ex = DinoV2(weights=path)
    assert ex.get_options()["weights"] == str(path)
    check_uses(ex, checkpoint)


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"pos_embed": torch.zeros(1), "payload": object()}, path)
    with pytest.raises(Exception, match="[Ww]eights only load failed"):
        DinoV2(weights=path).network  # noqa: B018


def test_wrong_architecture_fails_loudly(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"head.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(RuntimeError, match="Missing key"):
        DinoV2(weights=path).network  # noqa: B018


@pytest.mark.parametrize(
    ("cls", "folder"),
    [
        (DinoV2, "models--timm--vit_small_patch14_reg4_dinov2.lvd142m"),
        (UNI, "models--MahmoodLab--UNI"),
    ],
)
def test_offline_without_cache_names_file_and_folder(offline_hf, cls, folder):
    with pytest.raises(WeightsNotFoundError) as info:
        cls()
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert "model.safetensors" in message and "pytorch_model.bin" in message
    assert str(offline_hf / "hub" / folder) in message
    assert "HF_HUB_OFFLINE" in message


def test_hf_hub_cache_variable_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    with pytest.raises(WeightsNotFoundError, match=str(tmp_path / "elsewhere")):
        DinoV2(size="large")


def test_missing_explicit_file_is_named(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="nothere.safetensors"):
        DinoV2(weights=tmp_path / "nothere.safetensors")
