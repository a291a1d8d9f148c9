"""Shared support for torch extractors: devices, ``weights="random"``, weight files, networks.

Every torch-based plugin (``vgg16``, ``dinov2``/``dinov3``/``uni``, ``cellpose``,
``efficientnet``/``convnext``) resolves its ``weights`` and ``device`` options and builds its
network through this module, so they behave alike:

* ``weights=None``: a cache lookup (the torch hub or Hugging Face cache, a model folder); a
  missing file raises :class:`WeightsNotFoundError` naming every place looked at and how to
  get the file.  Nothing is downloaded unless the caller asks.
* ``weights="random"`` (:data:`RANDOM`): a seeded, untrained network, with a ``UserWarning``.
* ``weights=PATH``: a file that must exist; read without executing pickled code
  (``torch.load(weights_only=True)`` or safetensors), unreadable or mismatching files raise
  :class:`WeightsLoadError` naming the file.
* :func:`network_cache`: networks built once per process and key, under one lock.

The weights option and the cache lookups are :mod:`convpaint.weight_files`'s, re-exported
here.  The core imports without torch: torch, safetensors and huggingface_hub are imported
inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .devices import AUTO, CHOICES, resolve_device
from .weight_files import (
    HF_WEIGHT_FILES,
    RANDOM,
    WeightsLoadError,
    WeightsNotFoundError,
    download_file,
    existing_file,
    find_file,
    hf_cache_dir,
    hf_cached_file,
    hf_offline,
    hf_repo_folder,
    hf_weights_file,
    resolve_weights,
    torch_hub_dir,
    warn_random_weights,
    weights_option,
    weights_source,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "AUTO",
    "BUILD_LOCK",
    "CHOICES",
    "HF_WEIGHT_FILES",
    "RANDOM",
    "WeightsLoadError",
    "WeightsNotFoundError",
    "assign_state_dict",
    "build_once",
    "check_materialised",
    "clear_network_caches",
    "download_file",
    "existing_file",
    "find_file",
    "hf_cache_dir",
    "hf_cached_file",
    "hf_offline",
    "hf_repo_folder",
    "hf_weights_file",
    "load_state_dict",
    "load_tensors",
    "network_cache",
    "resolve_device",
    "resolve_weights",
    "seeded",
    "torch_hub_dir",
    "warn_random_weights",
    "weights_option",
    "weights_source",
]

#: one network build at a time in the process: tiles run in threads, and random
#: initialisations seed torch's global generator (reentrant: a build may build parts)
BUILD_LOCK = threading.RLock()
_T = TypeVar("_T")


# -- reading weight files -----------------------------------------------------------------


def _read(path: str, wanted: Collection[str] | None) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint (only ``wanted`` ones when given; safetensors: lazily)."""
    import torch

    if path.endswith(".safetensors"):
        from safetensors import safe_open

        with safe_open(path, framework="pt", device="cpu") as handle:
            names = [k for k in handle.keys() if wanted is None or k in wanted]  # noqa: SIM118
            return {k: handle.get_tensor(k) for k in names}
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    for wrapper in ("state_dict", "model"):  # common training-checkpoint wrappers
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise TypeError(f"expected a state dict, found {type(state).__name__}")
    return {
        k: v
        for k, v in state.items()
        if isinstance(v, torch.Tensor) and (wanted is None or k in wanted)
    }


def _read_or_raise(path: str, wanted: Collection[str] | None, what: str) -> dict[str, Any]:
    try:
        return _read(path, wanted)
    except Exception as exc:
        raise WeightsLoadError(
            f"cannot read {what} {path}: {type(exc).__name__}: {exc}. The file may be corrupt "
            f"or incomplete; replace {Path(path).name!r} (e.g. delete it and download it again)."
        ) from exc


def load_state_dict(path: str | os.PathLike[str], what: str = "weights file") -> dict[str, Any]:
    """All tensors of a ``.safetensors`` or ``torch.save`` checkpoint, read safely.

    ``{"state_dict": ...}`` and ``{"model": ...}`` wrappers are unwrapped; anything that
    is not a tensor is dropped; pickled code is refused (:class:`WeightsLoadError`).
    """
    return _read_or_raise(os.fspath(path), None, what)


def _identity_keys(key: str) -> tuple[str, ...]:
    return (key,)


def load_tensors(
    path: str | os.PathLike[str],
    keys: Sequence[str],
    candidates: Callable[[str], Sequence[str]] = _identity_keys,
    what: str = "weights file",
    expected: str = "a state dict of the network",
) -> dict[str, torch.Tensor]:
    """The tensors ``keys`` of a checkpoint, each under the first of ``candidates(key)`` found.

    Only those tensors are read from ``.safetensors`` files.  A missing tensor raises
    :class:`WeightsLoadError` naming it (as ``candidates(key)[0]``) and ``expected``.
    Results are cached per (file, size, mtime); the returned tensors are copies.
    """
    p = Path(path)
    stat = p.stat()
    cached = _load_cached(
        os.fspath(p.resolve()), stat.st_size, stat.st_mtime_ns, tuple(keys), candidates, what,
        expected,
    )  # fmt: skip
    return {k: v.clone() for k, v in cached}


@functools.lru_cache(maxsize=4)
def _load_cached(
    path: str,
    size: int,
    mtime_ns: int,
    keys: tuple[str, ...],
    candidates: Callable[[str], Sequence[str]],
    what: str,
    expected: str,
) -> tuple[tuple[str, torch.Tensor], ...]:
    del size, mtime_ns  # cache key only
    names = {key: tuple(candidates(key)) for key in keys}
    state = _read_or_raise(path, {c for group in names.values() for c in group}, what)
    out: list[tuple[str, torch.Tensor]] = []
    missing: list[str] = []
    for key in keys:
        found = next((k for k in names[key] if k in state), None)
        if found is None:
            missing.append(names[key][0])
        else:
            out.append((key, state[found].detach().clone().contiguous()))
    if missing:
        more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        raise WeightsLoadError(
            f"{what} {path} lacks tensors {', '.join(missing[:4])}{more} (expected {expected})"
        )
    return tuple(out)


# -- building networks --------------------------------------------------------------------


@contextlib.contextmanager
def seeded(seed: int = 0) -> Iterator[None]:
    """torch's global generator seeded with ``seed`` inside, restored afterwards."""
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def assign_state_dict(
    net: Any, state: dict[str, Any], source: object, expected: str, what: str = "weights file"
) -> None:
    """Load ``state`` strictly into ``net`` (tensors assigned: meta-device networks work).

    A mismatch raises :class:`WeightsLoadError` naming ``source`` and ``expected`` (with
    torch's list of missing and unexpected keys).
    """
    try:
        net.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise WeightsLoadError(f"{what} {source} does not match {expected}: {exc}") from exc


def check_materialised(net: Any, source: object, expected: str) -> None:
    """A ``RuntimeError`` when a tensor of ``net`` is still on the meta device."""
    if any(t.is_meta for t in (*net.parameters(), *net.buffers())):
        raise RuntimeError(f"{source} left parts of the {expected} network uninitialised")


class _NetworkCache:
    """A callable building networks once per argument tuple (see :func:`network_cache`)."""

    def __init__(self, build: Callable[..., Any], maxsize: int) -> None:
        functools.update_wrapper(self, build)
        self.__wrapped__ = build
        self.maxsize = maxsize
        self.builds = 0
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        self._entries_lock = threading.Lock()

    def _get(self, key: Any) -> tuple[bool, Any]:
        with self._entries_lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return True, self._entries[key]
        return False, None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = (args, tuple(sorted(kwargs.items())))
        hit, value = self._get(key)
        if hit:
            return value
        with BUILD_LOCK:  # one build at a time; the threads that waited find it cached
            hit, value = self._get(key)
            if hit:
                return value
            value = self.__wrapped__(*args, **kwargs)
            self.builds += 1
            with self._entries_lock:
                self._entries[key] = value
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
        return value

    def cache_clear(self) -> None:
        """Forget every network (they are freed once no extractor holds them)."""
        with self._entries_lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_CACHES: list[_NetworkCache] = []


def network_cache(maxsize: int = 2) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Decorator: a process-wide cache of networks keyed by the call's arguments.

    Key a builder by what makes a network, e.g. ``(name, *weights_source(path), device)``
    (:func:`weights_source` adds the file's mtime, so a rewritten file is reloaded).  A
    network is built once per key even when tiles in several threads ask at once (builds
    hold :data:`BUILD_LOCK`); failed builds are not cached; the least recently used of
    more than ``maxsize`` networks is dropped.  The result has ``cache_clear()``,
    ``builds`` (a count) and ``__wrapped__`` (the uncached builder).
    """
    if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
        raise ValueError(f"maxsize must be a positive integer, got {maxsize!r}")

    def decorate(build: Callable[..., _T]) -> Callable[..., _T]:
        cache = _NetworkCache(build, maxsize)
        _CACHES.append(cache)
        return cache

    return decorate


def clear_network_caches() -> None:
    """Empty every :func:`network_cache` of the process (frees memory, forces rebuilds)."""
    for cache in _CACHES:
        cache.cache_clear()
    _load_cached.cache_clear()


def build_once(owner: Any, attribute: str, build: Callable[[], _T]) -> _T:
    """``owner.<attribute>``, set to ``build()`` by the first caller (others wait for it)."""
    value = getattr(owner, attribute)
    if value is None:
        with BUILD_LOCK:  # two tiles' threads must not build two (different) networks
            value = getattr(owner, attribute)
            if value is None:
                value = build()
                setattr(owner, attribute, value)
    return value
