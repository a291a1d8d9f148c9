"""Cold start: numba's disk cache gives the fresh compile's numbers; no writable cache
location is never an error; the preload warms the kernels once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from convpaint import jit

pytest.importorskip("numba")
pytestmark = pytest.mark.skipif(not jit.enabled(), reason="numba kernels are off")

# one fresh process: a seeded forest, its kernel probabilities saved to OUT
SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from convpaint import forest_kernel, jit
    if os.environ.get("READ_ONLY"):  # what numba's locators do for an unwritable folder
        from numba.core import caching
        for cls in (caching.InTreeCacheLocator, caching.UserWideCacheLocator):
            cls.from_function = classmethod(lambda cls, f, p: None)
    if os.environ.get("READ_ONLY") == "everywhere":
        jit.fallback_cache_dir = lambda: None
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 5)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] ** 2 > 0.5).astype(int) + (x[:, 2] > 1)
    clf = RandomForestClassifier(n_estimators=7, random_state=0).fit(x, y)
    feats = rng.normal(size=(5, 1000)).astype(np.float32)
    proba = forest_kernel.forest_proba(clf, feats)
    np.save(sys.argv[1], proba)
    kernel = forest_kernel._kernel()
    print(json.dumps({"hits": sum(kernel.stats.cache_hits.values()),
                      "path": jit.cache_path(kernel) if jit.caching() else None,
                      "sklearn": bool(np.array_equal(proba.T, clf.predict_proba(feats.T)))}))
    """
)


def _run(tmp: Path, name: str, **env: str) -> tuple[np.ndarray, dict]:
    full = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | env
    out = tmp / f"{name}.npy"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out)], env=full, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.load(out), json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, dict]:
    """Fresh processes: twice with a cache folder, twice with the package folder
    read-only, once with no writable location at all (a fresh compile)."""
    tmp = tmp_path_factory.mktemp("cold")
    cache, private = str(tmp / "cache"), tmp / "tmp"
    private.mkdir()
    ro = {"READ_ONLY": "package", "TMPDIR": str(private)}
    return tmp, {
        "cached 1": _run(tmp, "c1", NUMBA_CACHE_DIR=cache),
        "cached 2": _run(tmp, "c2", NUMBA_CACHE_DIR=cache),
        "read-only 1": _run(tmp, "r1", **ro),
        "read-only 2": _run(tmp, "r2", **ro),
        "nowhere": _run(tmp, "n", READ_ONLY="everywhere", TMPDIR=str(tmp / "none")),
    }


def test_cached_kernel_equals_fresh_compile(runs):
    tmp, r = runs
    (first, info1), (second, info2), (fresh, info3) = (
        r["cached 1"],
        r["cached 2"],
        r["nowhere"],
    )
    assert info1["hits"] == 0 and info2["hits"] >= 1  # compiled, then loaded
    assert info1["path"].startswith(str(tmp / "cache"))
    assert any((tmp / "cache").rglob("*.nbc"))
    assert first.tobytes() == second.tobytes() == fresh.tobytes()
    assert info2["sklearn"] and info3["sklearn"]


def test_read_only_package_caches_in_private_temp_folder(runs):
    tmp, r = runs
    (a, info1), (b, info2) = r["read-only 1"], r["read-only 2"]
    private = tmp / "tmp" / f"convpaint-numba-{os.getuid()}"
    assert info1["path"].startswith(str(private)) and info2["hits"] >= 1
    assert private.stat().st_mode & 0o077 == 0
    assert a.tobytes() == b.tobytes() == r["nowhere"][0].tobytes() and info2["sklearn"]


def test_no_writable_location_compiles_without_cache(runs):
    tmp, r = runs
    proba, info = r["nowhere"]
    assert info["path"] is None and info["hits"] == 0 and info["sklearn"]
    assert not (tmp / "none").exists()


def test_fallback_refuses_a_folder_others_can_write(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    shared = tmp_path / f"convpaint-numba-{os.getuid()}"
    shared.mkdir()
    shared.chmod(0o777)
    assert jit.fallback_cache_dir() is None
    shared.chmod(0o700)
    assert jit.fallback_cache_dir() == str(shared)


def test_preload_loads_registered_kernels_once(monkeypatch):
    from convpaint import forest_kernel

    times = jit.preload()
    assert {"import numba", "forest walk"} <= set(times)
    assert jit.preload() is times  # once per process
    assert jit.preload_in_background() is None  # nothing pending
    late: list[int] = []
    monkeypatch.setattr(jit, "_warm_ups", {**jit._warm_ups, "late": lambda: late.append(1)})
    monkeypatch.setattr(jit, "_preloaded", dict(times))
    again = jit.preload()
    assert jit.preload() is again and late == [1]  # a late registration runs, once
    assert again["forest walk"] == times["forest walk"]  # the others do not run again
    assert forest_kernel._kernel().signatures  # the walk is compiled for the pipeline's types


def _plus_one(a):
    return a + 1


def test_compile_returns_a_compiled_function_unchanged(monkeypatch):
    monkeypatch.setenv(jit.CACHE_ENV, "0")
    kernel = jit.compile(_plus_one)
    assert kernel is not None and jit.compile(kernel) is kernel and kernel(1) == 2


def test_preload_in_background_runs_warm_ups_and_survives_failures(monkeypatch):
    ran = []
    monkeypatch.setattr(jit, "_preloaded", None)
    monkeypatch.setattr(jit, "_warm_ups", {"ok": lambda: ran.append(1)})
    thread = jit.preload_in_background()
    assert thread is not None
    thread.join(60)
    assert ran == [1] and set(jit._preloaded) == {"import numba", "ok"}

    def broken() -> None:
        raise RuntimeError("no kernel")

    monkeypatch.setattr(jit, "_preloaded", None)
    monkeypatch.setattr(jit, "_warm_ups", {"broken": broken})
    thread = jit.preload_in_background()
    thread.join(60)  # the thread ends quietly; a later preload raises again
    with pytest.raises(RuntimeError, match="no kernel"):
        jit.preload()


def test_demo_warm_up_loads_kernels_and_runs_the_extractor_once():
    from convpaint.demo import warm_up

    times = warm_up("raw")
    assert {"import numba", "forest walk", "feature gather", "tiny raw run"} <= set(times)
    assert all(t >= 0 for t in times.values())


MODEL_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import convpaint
    from convpaint import jit
    before = "numba" in sys.modules
    convpaint.ConvpaintModel("raw")
    for _ in range(600):  # the preload thread, started by the model, loads the kernels
        if not jit.enabled() or (jit._preloaded is not None and not jit._pending()):
            break
        time.sleep(0.05)
    print(json.dumps({"before": before, "loaded": sorted(jit._preloaded or {})}))
    """
)


@pytest.mark.parametrize("numba_on", [True, False])
def test_a_new_model_loads_the_kernels_on_a_thread(numba_on):
    """The first ConvpaintModel() starts jit.preload on a thread, so the first train
    finds the kernels loaded; ``CONVPAINT_NUMBA=0`` starts nothing."""
    env = dict(os.environ, CONVPAINT_NUMBA="1" if numba_on else "0")
    proc = subprocess.run(
        [sys.executable, "-c", MODEL_SCRIPT], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["before"] is False  # import convpaint stays light
    if numba_on:
        assert {"import numba", "forest walk", "feature gather"} <= set(info["loaded"])
    else:
        assert info["loaded"] == []
