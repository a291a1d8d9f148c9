"""Fixtures of the cellpose tests.

Tests with several ViT-L forward passes (5-30 s each on a CPU) are marked ``slow``: the
default run deselects them (``-m "not slow"`` in the root pyproject's addopts) and
``scripts/test.sh`` runs them in a separate, time-boxed step (``pytest -m slow``).
"""

import warnings

import pytest


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
