"""Where inputs are read from and where outputs go: never write over an input.

Checks made before anything is written:

- :func:`check_output` refuses an output that is, contains or lies inside an input
  (``ValueError``); paths are compared resolved (symbolic links, ``..``), and files
  that exist are also compared by identity (hard links);
- :func:`check_distinct` refuses two outputs that resolve to the same path (``ValueError``);
- :func:`check_store_target` refuses to write a zarr result into an existing folder
  that is not an empty folder or a store this project wrote (``FileExistsError``).

:func:`source_paths` names the files or folders an input is read from: a path, a zarr
array or group (its store's root), a TIFF read through tifffile's zarr view, a dask
array made from either, or a NumPy memory map.  Nothing here deletes anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

STORE_KEY = "convpaint"  # the group attribute that marks a store this project wrote
_MAX_SCAN = 64  # graph layers with more tasks than this are not scanned for their sources


def resolve(path: str | os.PathLike) -> Path:
    """``path`` made absolute with symbolic links and ``..`` resolved (it need not exist)."""
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def source_paths(array_or_path: Any) -> list[Path]:
    """The resolved files/folders ``array_or_path`` is read from ([] when not known)."""
    found: list[Path] = []
    _collect(array_or_path, found, depth=0)
    unique: list[Path] = []
    for p in found:
        if p not in unique:
            unique.append(p)
    return unique


def _collect(obj: Any, found: list[Path], depth: int) -> None:
    if depth > 6 or obj is None:
        return
    if isinstance(obj, (str, bytes, os.PathLike)):
        if depth == 0:  # a path given; strings inside graphs are task keys
            found.append(resolve(os.fsdecode(obj)))
        return
    store = getattr(obj, "store", None)
    if store is not None and type(obj).__module__.startswith("zarr"):
        _store_root(store, found)
        return
    filename = getattr(obj, "filename", None)  # numpy.memmap
    if isinstance(filename, (str, os.PathLike)) and type(obj).__module__.startswith("numpy"):
        found.append(resolve(filename))
        return
    graph = getattr(obj, "__dask_graph__", None)
    if callable(graph) and hasattr(obj, "chunks"):
        _dask_sources(graph(), found, depth)
        return
    if isinstance(obj, (tuple, list)):
        for item in obj[:_MAX_SCAN]:
            _collect(item, found, depth + 1)
        return
    if isinstance(obj, dict):
        for item in list(obj.values())[:_MAX_SCAN]:
            _collect(item, found, depth + 1)
        return
    # dask tasks: Task(args=...), DataNode(value=...), Alias
    if type(obj).__module__.startswith("dask"):
        for attr in ("value", "args", "kwargs"):
            if hasattr(obj, attr):
                _collect(getattr(obj, attr), found, depth + 1)


def _store_root(store: Any, found: list[Path]) -> None:
    root = getattr(store, "root", None)  # zarr v3 LocalStore
    if root is None:
        root = getattr(store, "path", None)  # zarr v2 DirectoryStore, fsspec stores
        if not isinstance(root, (str, os.PathLike)) or not os.path.isabs(os.fspath(root)):
            root = None
    if root is not None:
        found.append(resolve(root))
        return
    for series in getattr(store, "_data", None) or []:  # tifffile's ZarrTiffStore
        path = getattr(getattr(getattr(series, "parent", None), "filehandle", None), "path", None)
        if isinstance(path, str) and path:
            found.append(resolve(path))


def _dask_sources(graph: Any, found: list[Path], depth: int) -> None:
    layers = getattr(graph, "layers", None)
    if layers is None:
        layers = {"graph": graph}
    for layer in layers.values():
        indices = getattr(layer, "indices", None)  # Blockwise: constant arguments inlined
        if indices:
            for arg, index in indices:
                if index is None:
                    _collect(arg, found, depth + 1)
        try:
            small = len(layer) <= _MAX_SCAN
        except TypeError:
            small = False
        if small:  # "original-from-zarr-…": the source array itself
            for value in dict(layer).values():
                _collect(value, found, depth + 1)


def _inputs(inputs: Iterable[Any] | Any) -> list[tuple[str, Path]]:
    """(how to name it, resolved path) of every source of every input."""
    if isinstance(inputs, (str, os.PathLike)) or not isinstance(inputs, Iterable):
        inputs = [inputs]
    out = []
    for item in inputs:
        for p in source_paths(item):
            name = os.fspath(item) if isinstance(item, (str, os.PathLike)) else str(p)
            out.append((name, p))
    return out


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    out: str | os.PathLike, inputs: Iterable[Any] | Any, *, what: str = "output"
) -> None:
    """Raise ``ValueError`` naming both paths when ``out`` is, contains or lies inside an input.

    ``inputs``: paths, zarr/dask/memory-mapped arrays, or a list of them (see
    :func:`source_paths`).  ``out`` need not exist.  Call it before writing anything.
    """
    target = resolve(out)
    for name, src in _inputs(inputs):
        if _same(target, src):
            how = "is the input"
        elif any(_same(parent, src) for parent in target.parents):
            how = "lies inside the input"
        elif any(_same(parent, target) for parent in src.parents):
            how = "contains the input"
        else:
            continue
        raise ValueError(
            f"{what} {os.fspath(out)} {how} {name}: writing it would destroy the input; "
            "choose another output path"
        )


def check_distinct(outputs: Iterable[tuple[Any, str | os.PathLike]]) -> None:
    """Raise ``ValueError`` when two ``(input, output)`` pairs resolve to the same output."""
    seen: dict[Path, Any] = {}
    for src, dst in outputs:
        key = resolve(dst)
        if key in seen:
            raise ValueError(
                f"inputs {seen[key]} and {src} would both be written to {os.fspath(dst)}: "
                "segment them into different output folders (or rename one)"
            )
        seen[key] = src


def check_store_target(path: str | os.PathLike) -> None:
    """Allow writing a zarr result to ``path`` only when it does not exist, is an empty
    folder, or is a zarr group this project wrote (attribute ``"convpaint"``); otherwise
    raise ``FileExistsError`` naming it.  Never deletes or changes anything."""
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return
    if not p.is_dir():
        raise FileExistsError(
            f"cannot write {p}: it is a file, not a zarr store; it will not be overwritten"
        )
    try:
        empty = not any(os.scandir(p))
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write {p}: {exc.strerror}") from None
    if empty or STORE_KEY in _group_attributes(p):
        return
    raise FileExistsError(
        f"cannot write {p}: it exists and is not a Convpaint result store (no "
        f"{STORE_KEY!r} attribute in its zarr metadata); it will not be overwritten: "
        "choose a new path or remove it yourself"
    )


def _group_attributes(folder: Path) -> dict:
    """Attributes of the zarr group at ``folder`` (v3 ``zarr.json`` or v2 ``.zattrs``)."""
    for name, key in (("zarr.json", "attributes"), (".zattrs", None)):
        f = folder / name
        try:
            if f.stat().st_size > 16 * 2**20:  # a metadata file, not data
                continue
            meta = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict):
            continue
        if key is not None:
            if meta.get("node_type") != "group":
                continue
            meta = meta.get(key)
        elif not (folder / ".zgroup").is_file():
            continue
        if isinstance(meta, dict):
            return meta
    return {}


def image_stem(path: str | os.PathLike) -> str:
    """The name outputs of ``path`` are named after: ``a.ome.tif`` -> ``a``, ``b.zarr`` ->
    ``b``, ``c.png`` -> ``c``."""
    name = Path(path).name
    for suffix in (".ome.zarr", ".zarr", ".ome.tiff", ".ome.tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem
