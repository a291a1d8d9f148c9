"""Cancelling long calls from another thread, and reporting their progress."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Cancelled(Exception):  # noqa: N818 -- reads as "the call was Cancelled"
    """Raised by a call whose ``cancel`` event was set; it wrote no partial result."""


def cancel_check(cancel: Any) -> Callable[[], None]:
    """A function raising :class:`Cancelled` once ``cancel`` is set.

    ``cancel`` is ``None``, an object with ``is_set()`` (``threading.Event``) or
    a callable returning a bool.
    """
    if cancel is None:
        return lambda: None
    is_set = getattr(cancel, "is_set", None)
    if is_set is None:
        if not callable(cancel):
            raise TypeError(f"cancel must be a threading.Event or a callable, got {cancel!r}")
        is_set = cancel

    def check() -> None:
        if is_set():
            raise Cancelled("cancelled")

    return check


def check_callback(callback: Any) -> None:
    """Refuse a ``callback`` that cannot be called as ``callback(done, total)``."""
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as callback(done, total), got {callback!r}")
