"""Where weight files are: the ``weights`` option, cache lookups, and their errors.

``weights=None`` looks in a cache (:func:`find_file` for fixed places such as the torch hub
checkpoint folder or a model folder, :func:`hf_weights_file` for the Hugging Face hub cache)
and raises :class:`WeightsNotFoundError` naming every place looked at and how to get the file;
``"random"`` (:data:`RANDOM`) warns once with :func:`warn_random_weights`; a path must be a
file.  Nothing is downloaded unless asked.  Extractor plugins import all of this from
:mod:`convpaint.torch_support`; torch and huggingface_hub are imported only when called.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

RANDOM = "random"
#: the files a Hugging Face model repository keeps its weights in, preferred first
HF_WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")
_TRUE = {"1", "true", "yes", "on"}


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
