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

The core imports without torch: torch, safetensors and huggingface_hub are imported inside
the functions that need them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .devices import AUTO, CHOICES, resolve_device

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

RANDOM = "random"
#: the files a Hugging Face model repository keeps its weights in, preferred first
HF_WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")
#: one network build at a time in the process: tiles run in threads, and random
#: initialisations seed torch's global generator (reentrant: a build may build parts)
BUILD_LOCK = threading.RLock()
_TRUE = {"1", "true", "yes", "on"}
_T = TypeVar("_T")


class WeightsNotFoundError(FileNotFoundError):
    """A network's weights file is not where it was looked for (and is not downloaded)."""


class WeightsLoadError(RuntimeError):
    """A weights file exists but cannot be read, or does not fit the network."""


# -- the weights option -----------------------------------------------------------------


def weights_option(weights: object) -> str | None:
    """``None``, ``"random"`` or a path as stored in options (a path becomes a string)."""
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be None, 'random' or a path, got {weights!r}")
    return None if weights is None else os.fspath(weights)


def warn_random_weights(name: str, stacklevel: int = 2) -> None:
    """The one warning of ``weights="random"``, attributed ``stacklevel`` frames up."""
    warnings.warn(
        f"extractor {name!r} uses random weights (weights='random'): its features come from a "
        "seeded, untrained network -- meant for tests, not for segmentation",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


def existing_file(path: str | os.PathLike[str], what: str = "weights file") -> Path:
    """An explicit weights path, checked to be a file; :class:`WeightsNotFoundError` naming it."""
    p = Path(path).expanduser()
    if not p.is_file():
        problem = "is a folder, not a file" if p.is_dir() else "not found"
        raise WeightsNotFoundError(
            f"{what} {p.name!r} {problem} in {p.parent.resolve()} (weights={os.fspath(path)!r})"
        )
    return p


def find_file(candidates: Sequence[Path], what: str, how_to_get: str) -> Path:
    """The first existing file of ``candidates``; else an error naming each and how to get it."""
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    places = ", ".join(str(c) for c in candidates)
    raise WeightsNotFoundError(f"{what} not found (looked for {places}). {how_to_get}")


def resolve_weights(
    weights: str | os.PathLike[str] | None,
    name: str,
    lookup: Callable[[], Path],
    what: str = "weights file",
    stacklevel: int = 2,
) -> Path | None:
    """The weights file of a ``weights`` option; None for ``"random"`` (which warns).

    ``None``: ``lookup()``, the cache lookup that raises :class:`WeightsNotFoundError`;
    a path: it must be a file.  ``stacklevel`` is counted from the caller, as in
    :func:`warnings.warn`.
    """
    option = weights_option(weights)
    if option == RANDOM:
        warn_random_weights(name, stacklevel=stacklevel + 1)
        return None
    if option is None:
        return lookup()
    return existing_file(option, what)


def weights_source(path: Path | None) -> tuple[str, int]:
    """``(source, stamp)`` of a resolved weights file for cache keys: a rewritten file is new.

    ``None`` (random weights) gives ``("random", 0)``.
    """
    if path is None:
        return RANDOM, 0
    return str(path), path.stat().st_mtime_ns


# -- caches: torch hub, Hugging Face hub --------------------------------------------------


def torch_hub_dir() -> Path:
    """``torch.hub.get_dir()`` (honours ``TORCH_HOME``); checkpoints go to its ``checkpoints``."""
    import torch.hub

    return Path(torch.hub.get_dir())


def download_file(url: str, path: Path, progress: bool = True) -> Path:
    """Download ``url`` to ``path`` via torch hub unless present; a hash in the name is checked."""
    import torch.hub

    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        match = torch.hub.HASH_REGEX.search(path.name)
        torch.hub.download_url_to_file(
            url, os.fspath(path), hash_prefix=match.group(1) if match else None, progress=progress
        )
    return path


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache (``HF_HUB_CACHE``, ``HF_HOME/hub``, ``~/.cache``), read now."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg).expanduser() / "huggingface" / "hub"


def hf_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids downloads."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def hf_repo_folder(repo_id: str) -> Path:
    """Cache folder of a hub model repository (``models--owner--name``)."""
    return hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def hf_cached_file(repo_id: str, filenames: Sequence[str] = HF_WEIGHT_FILES) -> Path | None:
    """The first of ``filenames`` in the local cache of ``repo_id`` (no network), or None."""
    from huggingface_hub import try_to_load_from_cache

    cache = hf_cache_dir()
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache)
        if isinstance(found, str):
            return Path(found)
    return None


def hf_weights_file(
    repo_id: str,
    filenames: Sequence[str] = HF_WEIGHT_FILES,
    download: bool = False,
    download_hint: str = "",
) -> Path:
    """The weights of ``repo_id`` from the Hugging Face cache, else downloaded when asked.

    ``download=True`` fetches into the cache unless ``HF_HUB_OFFLINE`` is set.  Nothing
    found: :class:`WeightsNotFoundError` naming the files, the cache folder, why nothing
    was downloaded, and how to get them (``download_hint`` first, e.g. a plugin command).
    """
    found = hf_cached_file(repo_id, filenames)
    if found is not None:
        return found
    reason = "HF_HUB_OFFLINE is set" if hf_offline() else "downloads are off"
    if download and not hf_offline():
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

        for filename in filenames:
            try:
                return Path(hf_hub_download(repo_id, filename, cache_dir=hf_cache_dir()))
            except LocalEntryNotFoundError as exc:  # no connection: the others fail as well
                reason = f"download failed: {exc}"
                break
            except EntryNotFoundError:  # the repository has no such file; try the next name
                continue
            except Exception as exc:  # gated repository, HTTP error, no route ...
                reason = f"download failed: {type(exc).__name__}: {exc}"
                break
    names = " or ".join(repr(f) for f in filenames)
    raise WeightsNotFoundError(
        f"weights {names} of {repo_id} not found in the Hugging Face cache; looked under "
        f"{hf_repo_folder(repo_id)}/snapshots/<revision>/ ({reason}). Download them on a "
        f"connected machine ({download_hint}`hf download {repo_id}`) and copy the cache "
        "folder, point HF_HOME to a cache that has them, or pass weights=PATH to a checkpoint "
        "file (weights='random' gives an untrained network, for tests only)."
    )


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
