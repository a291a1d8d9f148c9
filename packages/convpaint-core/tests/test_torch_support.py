"""``convpaint.torch_support``: weights options, weight files, cache lookups, cached networks."""

import subprocess
import sys
import threading
import time

import pytest

from convpaint import torch_support as ts

torch = pytest.importorskip("torch")

REVISION = "0123456789abcdef0123456789abcdef01234567"


class _Custom:
    pass


def _state():
    g = torch.Generator().manual_seed(0)
    return {"conv.weight": torch.randn(4, 3, 3, 3, generator=g), "conv.bias": torch.arange(4.0)}


def _write_hub_file(cache, repo_id, filename, data=b"weights"):
    """A file laid out in a Hugging Face cache as ``hf_hub_download`` leaves it."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / REVISION / filename
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(data)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


def test_core_imports_without_torch():
    code = "import sys, convpaint.torch_support, convpaint; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_weights_option_and_random_warning(tmp_path):
    assert ts.weights_option(None) is None
    assert ts.weights_option(tmp_path / "w.pth") == str(tmp_path / "w.pth")
    with pytest.raises(TypeError, match="weights must be None, 'random' or a path"):
        ts.weights_option(3)
    with pytest.warns(UserWarning, match="'demo' uses random weights") as record:
        assert ts.resolve_weights("random", "demo", lambda: 1 / 0, stacklevel=1) is None
    assert record[0].filename == __file__  # attributed to the caller


def test_resolve_weights_lookup_and_paths(tmp_path):
    found = tmp_path / "cached.pth"
    assert ts.resolve_weights(None, "demo", lookup=lambda: found) == found
    (tmp_path / "w.pth").write_bytes(b"")
    assert (
        ts.resolve_weights(tmp_path / "w.pth", "demo", lookup=lambda: 1 / 0) == tmp_path / "w.pth"
    )
    with pytest.raises(ts.WeightsNotFoundError, match=r"'nothere.pth' not found in .*weights="):
        ts.resolve_weights(tmp_path / "nothere.pth", "demo", lookup=lambda: found)
    with pytest.raises(FileNotFoundError, match="is a folder"):
        ts.existing_file(tmp_path)


def test_find_file_names_every_place(tmp_path):
    places = [tmp_path / "a" / "w.pth", tmp_path / "b" / "w.pth"]
    with pytest.raises(ts.WeightsNotFoundError) as info:
        ts.find_file(places, "demo weights 'w.pth'", "Run `demo download`.")
    message = str(info.value)
    assert all(str(p) in message for p in places) and "demo download" in message
    places[1].parent.mkdir()
    places[1].write_bytes(b"")
    assert ts.find_file(places, "w", "") == places[1]


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_load_state_dict_and_filtered_tensors(tmp_path, suffix):
    state = _state()
    path = tmp_path / f"ckpt{suffix}"
    if suffix == ".pth":
        torch.save({"state_dict": {f"features.{k}": v for k, v in state.items()}}, path)
    else:
        from safetensors.torch import save_file

        save_file({f"features.{k}": v for k, v in state.items()}, path)
    full = ts.load_state_dict(path)
    assert sorted(full) == ["features.conv.bias", "features.conv.weight"]
    got = ts.load_tensors(path, ["conv.bias"], candidates=lambda k: (f"features.{k}", k))
    assert list(got) == ["conv.bias"] and torch.equal(got["conv.bias"], state["conv.bias"])
    got["conv.bias"].zero_()  # copies: the cache is not changed
    again = ts.load_tensors(path, ["conv.bias"], candidates=lambda k: (f"features.{k}", k))
    assert torch.equal(again["conv.bias"], state["conv.bias"])


def test_wrong_keys_corrupt_and_pickled_files(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save(_state(), path)
    with pytest.raises(ts.WeightsLoadError, match=r"lacks tensors head\.weight \(expected xy\)"):
        ts.load_tensors(path, ["conv.weight", "head.weight"], expected="xy")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ts.WeightsLoadError, match="cannot read weights file .*bad.safetensors"):
        ts.load_state_dict(bad)
    evil = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(1), "payload": _Custom()}, evil)
    with pytest.raises(ts.WeightsLoadError, match="[Ww]eights only load failed"):
        ts.load_state_dict(evil)
    net = torch.nn.Linear(2, 2)
    with pytest.raises(ts.WeightsLoadError, match="(?s)does not match a Linear: .*Missing key"):
        ts.assign_state_dict(net, {}, path, "a Linear")


def test_hf_cache_lookup_offline(tmp_path, monkeypatch):
    cache = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert ts.hf_cache_dir() == cache and not ts.hf_offline()
    with pytest.raises(ts.WeightsNotFoundError) as info:
        ts.hf_weights_file("owner/net", download_hint="`demo get`, or ")
    message = str(info.value)
    assert str(cache / "models--owner--net") in message and "downloads are off" in message
    assert "'model.safetensors' or 'pytorch_model.bin'" in message and "`demo get`" in message
    path = _write_hub_file(cache, "owner/net", "pytorch_model.bin")
    assert ts.hf_weights_file("owner/net") == path == ts.hf_cached_file("owner/net")
    monkeypatch.delenv("HF_HUB_CACHE")
    assert ts.hf_cache_dir() == tmp_path / "hf-home" / "hub"


def test_hf_download_only_when_asked(tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    calls = []

    def fake_download(repo_id, filename, cache_dir):
        calls.append(filename)
        return str(_write_hub_file(tmp_path / "hf", repo_id, filename))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ts.WeightsNotFoundError, match="HF_HUB_OFFLINE is set"):
        ts.hf_weights_file("owner/net", download=True)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert ts.hf_weights_file("owner/net", download=True).name == "model.safetensors"
    assert calls == ["model.safetensors"]


def test_torch_hub_dir_follows_torch_home(tmp_path, monkeypatch):
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    assert ts.torch_hub_dir() == tmp_path / "hub"


def test_network_cache_builds_once_across_threads():
    built = []

    @ts.network_cache(maxsize=2)
    def build(name, source, stamp, device):
        time.sleep(0.05)  # the other threads arrive while this one builds
        built.append(name)
        return object()

    barrier = threading.Barrier(6)

    def ask(_):
        barrier.wait()
        return build("net", "random", 0, "cpu")

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:
        nets = list(pool.map(ask, range(6)))
    assert built == ["net"] and build.builds == 1 and all(n is nets[0] for n in nets)
    assert build("net", "random", 0, "cpu") is nets[0]
    assert build("net", "random", 0, "meta") is not nets[0]  # the device is in the key
    build("other", "random", 0, "cpu")  # third network: the least recently used goes
    assert len(build) == 2 and build("net", "random", 0, "cpu") is not nets[0]
    build.cache_clear()
    assert len(build) == 0 and build.__wrapped__("x", "random", 0, "cpu") is not None


def test_network_cache_does_not_keep_failures():
    calls = []

    @ts.network_cache(maxsize=1)
    def build(fail):
        calls.append(fail)
        if fail:
            raise ValueError("broken")
        return "net"

    for _ in range(2):
        with pytest.raises(ValueError, match="broken"):
            build(True)
    assert calls == [True, True]
    with pytest.raises(ValueError, match="maxsize"):
        ts.network_cache(0)


def test_seeded_build_is_reproducible_and_restores_the_generator():
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    with ts.seeded(0):
        a = torch.nn.Linear(3, 3).weight.detach().clone()
    with ts.seeded(0):
        b = torch.nn.Linear(3, 3).weight.detach().clone()
    assert torch.equal(a, b) and torch.equal(torch.rand(3), expected_next)


def test_build_once_and_meta_check():
    class Owner:
        net = None

    owner, calls = Owner(), []
    assert ts.build_once(owner, "net", lambda: calls.append(1) or "built") == "built"
    assert ts.build_once(owner, "net", lambda: 1 / 0) == "built" and calls == [1]
    with torch.device("meta"):
        net = torch.nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="x.pth left parts of the demo network"):
        ts.check_materialised(net, "x.pth", "demo")
    ts.check_materialised(torch.nn.Linear(2, 2), "x.pth", "demo")


def test_clear_network_caches_empties_all():
    @ts.network_cache()
    def build(key):
        return [key]

    first = build(1)
    ts.clear_network_caches()
    assert build(1) is not first
