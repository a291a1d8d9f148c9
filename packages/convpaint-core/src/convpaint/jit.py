"""Optional numba compilation of the few hot loops (forest walks, feature gathers).

:func:`compile` returns the compiled function, or None when numba is missing
or ``CONVPAINT_NUMBA=0``; callers then take their numpy/scikit-learn path,
which gives the same numbers.

Compiled code is cached on disk so that only the first process ever pays the
compilation (~1-2 s a kernel): where numba puts it (``$NUMBA_CACHE_DIR``, else
beside the module, else numba's user-wide cache), else -- a read-only install
without a writable home -- in a private per-user folder of the temporary
directory (:func:`fallback_cache_dir`), else nowhere (compiled in every process,
never an error).  ``CONVPAINT_NUMBA_CACHE=0`` turns the disk cache off.

Even from the cache a process pays for numba itself (~0.2 s import, ~0.2 s to
set up its compiler on the first kernel): :func:`preload` does that work and
runs the warm-ups that kernel modules :func:`register` (their kernels called on
tiny inputs of the argument types the pipeline uses), and
:func:`preload_in_background` does it on a thread while the caller reads its
image or paints.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

ENV = "CONVPAINT_NUMBA"
CACHE_ENV = "CONVPAINT_NUMBA_CACHE"
_preload_lock = threading.Lock()
_preloaded: dict[str, float] | None = None
_warm_ups: dict[str, Callable[[], object]] = {}


def enabled() -> bool:
    """Whether kernels are compiled (numba installed and ``CONVPAINT_NUMBA`` is not 0)."""
    if os.environ.get(ENV, "1") == "0":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def caching() -> bool:
    """Whether compiled kernels go to (and come from) a disk cache (``CONVPAINT_NUMBA_CACHE``)."""
    return os.environ.get(CACHE_ENV, "1") != "0"


def compile(fn: Callable) -> Callable | None:  # noqa: A001 (the verb is the point)
    """``fn`` compiled with numba (no GIL, no bounds checks, cached on disk), or None;
    an already compiled ``fn`` comes back as it is (two threads may race to compile)."""
    if not enabled():
        return None
    import numba
    from numba.core.dispatcher import Dispatcher

    if isinstance(fn, Dispatcher):
        return fn

    options: dict[str, Any] = {"nogil": True, "boundscheck": False}
    if not caching():
        return numba.njit(**options)(fn)
    try:
        return numba.njit(cache=True, **options)(fn)
    except RuntimeError:  # numba found no writable location: try ours, else none
        kernel = numba.njit(**options)(fn)
        _cache_in_fallback(kernel)
        return kernel


def fallback_cache_dir() -> str | None:
    """A private (mode 700, ours) cache folder in the temporary directory, or None.

    Only used when numba has no writable location of its own; a folder that others
    could write is refused (numba's cache holds pickles, executed when loaded).
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    path = os.path.join(tempfile.gettempdir(), f"convpaint-numba-{uid}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o022:
            return None
        if hasattr(os, "getuid") and st.st_uid != uid:
            return None
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return None
    return path


def _cache_in_fallback(kernel: Any) -> bool:
    """Give an uncached dispatcher a disk cache under :func:`fallback_cache_dir`."""
    found = fallback_cache_dir()
    if found is None:
        return False
    root: str = found
    try:  # numba internals: any mismatch means no cache, not an error
        from numba.core import caching

        class Locator(caching.UserProvidedCacheLocator):
            def __init__(self, py_func: Any, py_file: str) -> None:
                self._py_file = py_file
                self._lineno = py_func.__code__.co_firstlineno
                self._cache_path = os.path.join(root, self.get_suitable_cache_subpath(py_file))

            @classmethod
            def from_function(cls, py_func: Any, py_file: str) -> Any:
                if not os.path.exists(py_file):
                    return None
                self = cls(py_func, py_file)
                try:
                    self.ensure_cache_path()
                except OSError:
                    return None
                return self

        class Impl(caching.CompileResultCacheImpl):
            _locator_classes = [Locator]

        class Cache(caching.FunctionCache):
            _impl_class = Impl

        kernel._cache = Cache(kernel.py_func)
    except Exception:  # noqa: BLE001 (another numba version: compile in every process)
        return False
    return True


def cache_path(kernel: Any) -> str | None:
    """The folder a compiled kernel is cached in, or None when it is not cached."""
    try:
        return kernel.stats.cache_path
    except AttributeError:
        return None


def register(name: str, warm_up: Callable[[], object]) -> None:
    """Have :func:`preload` run ``warm_up`` (a kernel module's call of its kernels on tiny
    inputs of the argument types the pipeline uses); modules register at import."""
    _warm_ups[name] = warm_up


def preload() -> dict[str, float]:
    """Import numba and load (or compile and cache) the registered kernels; seconds per
    step.  Each warm-up runs once per process: a later call runs only those registered
    since and returns the same dict.  Without numba, ``{}``."""
    global _preloaded
    with _preload_lock:
        if _preloaded is None:
            t0 = time.perf_counter()
            if not enabled():
                _preloaded = {}
                return _preloaded
            _preloaded = {"import numba": time.perf_counter() - t0}
        if not enabled():
            return _preloaded
        for name, warm_up in list(_warm_ups.items()):
            if name not in _preloaded:
                t = time.perf_counter()
                warm_up()
                _preloaded[name] = time.perf_counter() - t
        return _preloaded


def _pending() -> bool:
    return _preloaded is None or any(name not in _preloaded for name in _warm_ups)


def preload_in_background() -> threading.Thread | None:
    """:func:`preload` on a daemon thread (started and returned), or None when numba is
    off or every registered kernel is loaded already.  A kernel called meanwhile waits at
    numba's compiler lock instead of loading twice."""
    if not _pending() or os.environ.get(ENV, "1") == "0":
        return None
    thread = threading.Thread(target=_quiet_preload, name="convpaint-preload", daemon=True)
    thread.start()
    return thread


def _quiet_preload() -> None:
    # a warm-up must never break the caller (a failing kernel fails again when called)
    with contextlib.suppress(Exception):
        preload()
