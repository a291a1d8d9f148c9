"""Optional numba compilation of the few hot loops (forest walks, feature gathers).

:func:`compile` returns the compiled function, or None when numba is missing
or ``CONVPAINT_NUMBA=0``; callers then take their numpy/scikit-learn path,
which gives the same numbers.  Compiled code is cached on disk where numba can
write (beside the module, else its user-wide cache), so only the first process
pays the ~1 s compilation.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def enabled() -> bool:
    if os.environ.get("CONVPAINT_NUMBA", "1") == "0":
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def compile(fn: Callable) -> Callable | None:  # noqa: A001 (the verb is the point)
    """``fn`` compiled with numba (no GIL, no bounds checks), or None."""
    if not enabled():
        return None
    import numba

    try:
        return numba.njit(nogil=True, cache=True, boundscheck=False)(fn)
    except RuntimeError:  # no writable cache location: compile in every process
        return numba.njit(nogil=True, boundscheck=False)(fn)
