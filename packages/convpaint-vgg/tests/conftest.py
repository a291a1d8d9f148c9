import pytest


@pytest.fixture(autouse=True)
def hub_dir(tmp_path):
    """A private, empty torch hub cache: no test sees the user's cached weights."""
    import torch.hub

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(old)
