import pytest


@pytest.fixture(autouse=True)
def hf_cache(tmp_path, monkeypatch):
    """A private, empty Hugging Face cache, offline: no test sees or fetches real weights."""
    cache = tmp_path / "hf"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache
