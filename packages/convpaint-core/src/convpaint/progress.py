"""Progress bars for long work (tqdm; shown on terminals unless told otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm


@contextmanager
def progress_bar(total: int, desc: str, enabled: bool | None = None) -> Iterator[tqdm]:
    """A tqdm bar; ``enabled=None`` shows it only on a terminal and for more than one step."""
    disable = (not enabled) if enabled is not None else (None if total > 1 else True)
    with tqdm(total=total, desc=desc, unit="tile", disable=disable, leave=False) as bar:
        yield bar
