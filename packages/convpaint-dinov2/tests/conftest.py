import pytest


@pytest.fixture(autouse=True)
def offline_hf(tmp_path, monkeypatch):
    """No test touches the network or the user's Hugging Face cache."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path / "hf"
