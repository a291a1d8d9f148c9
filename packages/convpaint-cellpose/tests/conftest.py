import os
import warnings

import pytest

SLOW = os.environ.get("CONVPAINT_SLOW", "") not in ("", "0")


def pytest_collection_modifyitems(config, items):
    """ViT-L forward passes take 5-30 s each on a CPU: marked tests run with CONVPAINT_SLOW=1."""
    skip = pytest.mark.skip(reason="cellpose-SAM on CPU is slow; set CONVPAINT_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords and not SLOW:
            item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: several ViT-L forward passes (CONVPAINT_SLOW=1)")


@pytest.fixture(autouse=True)
def empty_model_dir(tmp_path, monkeypatch):
    """No test reads the user's cellpose models."""
    monkeypatch.setenv("CELLPOSE_LOCAL_MODELS_PATH", str(tmp_path / "cellpose-models"))
    return tmp_path / "cellpose-models"


@pytest.fixture(scope="session")
def random_cellpose():
    from convpaint_cellpose import Cellpose

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ex = Cellpose(weights="random")
    ex.network  # noqa: B018 - build once per session (about 10 s)
    return ex
