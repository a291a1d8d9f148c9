import pytest
import torch

from convpaint_cellpose import Cellpose, WeightsNotFoundError
from convpaint_cellpose.weights import load_state_dict


def test_missing_default_model_names_file_and_folder(empty_model_dir):
    with pytest.raises(WeightsNotFoundError) as info:
        Cellpose()
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert "'cpsam'" in message and str(empty_model_dir / "cpsam") in message
    assert "CELLPOSE_LOCAL_MODELS_PATH" in message


def test_model_name_and_path_resolution(empty_model_dir, tmp_path):
    empty_model_dir.mkdir()
    (empty_model_dir / "cpsam_v2").write_bytes(b"")
    assert Cellpose(weights="cpsam_v2").weights_file == empty_model_dir / "cpsam_v2"
    (empty_model_dir / "cpsam").write_bytes(b"")
    assert Cellpose().weights_file == empty_model_dir / "cpsam"
    assert Cellpose().get_options()["weights"] is None
    with pytest.raises(WeightsNotFoundError, match="nothere.pth"):
        Cellpose(weights=tmp_path / "nothere.pth")


def test_cellpose3_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "cyto3"
    torch.save({"downsample.res_down_0.conv.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="not a cellpose 4"):
        load_state_dict(path)


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil"
    torch.save({"W2": torch.zeros(1), "payload": object()}, path)
    with pytest.raises(Exception, match="[Ww]eights only load failed"):
        load_state_dict(path)


def test_checkpoint_weights_are_used(random_cellpose, tmp_path):
    """A state dict saved by cellpose (with DataParallel prefixes) is loaded exactly."""
    from convpaint_cellpose import network

    state = random_cellpose.network.state_dict()
    marked = {f"module.{k}": v for k, v in state.items()}
    marked["module.out.bias"] = torch.linspace(-1, 1, state["out.bias"].numel())
    path = tmp_path / "cpsam_marked"
    torch.save(marked, path)
    try:
        net = Cellpose(weights=path).network
        torch.testing.assert_close(net.out.bias, marked["module.out.bias"], rtol=0, atol=0)
        name = "encoder.blocks.3.attn.qkv.weight"
        torch.testing.assert_close(net.state_dict()[name], state[name], rtol=0, atol=0)
    finally:
        network._build_network.cache_clear()  # keep the random network for the other tests
