"""fastfilters2 backend: agreement with scipy and the guard against its crashes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from ilastik_testutils import smooth_noise

from convpaint_ilastik import IlastikFilters, fast, opencv
from convpaint_ilastik.filters import filter_bank

needs_ff = pytest.mark.skipif(not fast.available(), reason="fastfilters2 is not installed")


@needs_ff
@pytest.mark.parametrize("sigma", [0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0])
def test_compute_filters_matches_scipy(sigma: float) -> None:
    x = smooth_noise((200, 260), seed=7)
    ff = fast.compute_filters(x, sigma)
    ref = {f: out for f, _, out in filter_bank(x, tuple(fast.CHANNELS), (sigma,))}
    for name, channels in fast.CHANNELS.items():
        got = ff[list(channels)]
        scale = float(np.abs(ref[name]).max())
        # measured: <= 1e-6 (about 2 float32 ulps of the largest value), borders included
        assert np.abs(got - ref[name]).max() <= 1e-6 * max(scale, 1.0), name


@needs_ff
def test_backends_agree(plane: np.ndarray) -> None:
    a = IlastikFilters(backend="fastfilters").extract(plane)
    b = IlastikFilters(backend="scipy").extract(plane)
    scale = np.maximum(np.abs(b).max(axis=(1, 2), keepdims=True), 1.0)
    assert np.abs(a - b).max() > 0  # really two implementations
    assert np.all(np.abs(a - b) <= 2e-6 * scale)


def test_auto_backend_choice() -> None:
    """auto: OpenCV first, then fastfilters2 (see test_opencv_backend.py)."""
    assert IlastikFilters().uses_fastfilters == (fast.available() and not opencv.available())
    assert not IlastikFilters(backend="scipy").uses_fastfilters
    if not fast.available():
        with pytest.raises(ImportError, match=r"convpaint-ilastik\[fast\]"):
            IlastikFilters(backend="fastfilters")


SMALL = [(1, 1), (2, 3), (20, 37), (3, 200), (200, 3), (5, 127), (127, 5), (40, 128), (1, 300)]


def test_small_planes_never_crash() -> None:
    """Run in a child: an unguarded fastfilters2 call on these shapes segfaults."""
    code = textwrap.dedent(
        f"""
        import numpy as np
        from convpaint_ilastik import IlastikFilters, fast, opencv
        exs = [IlastikFilters(backend=b) for b in ("auto", "scipy")]
        if fast.available():
            exs[0] = IlastikFilters(backend="fastfilters")
        for shape in {SMALL!r}:
            x = np.random.default_rng(0).random((1, *shape), dtype=np.float32)
            outs = [ex.extract(x) for ex in exs]
            assert all(o.shape == (56, *shape) and np.isfinite(o).all() for o in outs), shape
            assert np.allclose(outs[0], outs[1], atol=2e-6), shape
            if fast.available():
                for s in (0.3, 10.0):
                    assert fast.compute_filters(x[0], s).shape == (7, *shape)
        print("survived")
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "survived" in run.stdout


@needs_ff
def test_guard_pads_narrow_planes() -> None:
    """Below 128 columns the plane is padded first; pixels away from the border match scipy."""
    x = smooth_noise((60, 40), seed=8)
    got = fast.compute_filters(x, 1.6)
    r = fast.safe_radius(1.6)
    for name, _, ref in filter_bank(x, tuple(fast.CHANNELS), (1.6,)):
        diff = np.abs(got[list(fast.CHANNELS[name])] - ref)
        assert diff[:, r:-r, r:-r].max() < 1e-6, name
        if name == "gaussian":  # a plain cascade: mirroring the input == mirroring each pass
            assert diff.max() < 1e-6


@needs_ff
def test_concurrent_calls_do_not_deadlock() -> None:
    """The core featurises tiles on threads; unguarded fastfilters2 calls deadlocked."""
    code = textwrap.dedent(
        """
        from concurrent.futures import ThreadPoolExecutor
        import numpy as np
        from convpaint_ilastik import IlastikFilters
        ex = IlastikFilters(backend="fastfilters", sigmas=[1.0, 3.5])
        planes = [np.random.default_rng(i).random((1, 150, 160), dtype=np.float32) for i in range(8)]
        with ThreadPoolExecutor(4) as pool:
            outs = list(pool.map(ex.extract, planes))
        assert all(np.array_equal(o, ex.extract(p)) for o, p in zip(outs, planes))
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
