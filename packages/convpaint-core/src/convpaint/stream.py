"""Streamed results: labels and probabilities written into zarr block by block, resumable.

The prediction graph of :mod:`convpaint.lazy` is computed a few rows of blocks
at a time; each task classifies its block, writes it into the output arrays and
then sets the block's flag in a small marker array (``convpaint_done``, one
zarr chunk per block).  zarr's local store writes every chunk atomically
(temporary file + rename), and a block whose flag is not set is simply
computed and written again, so an interrupted run resumes where it stopped
and never leaves a half-written chunk behind.  When every block is done the
group's ``convpaint`` attribute says ``complete`` and the markers are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import lazy
from .cancel import cancel_check
from .ome import _zarr, write_multiscales
from .progress import progress_bar

MARKERS = "convpaint_done"
PROBA_GROUP = "probabilities"


def _fingerprint(model: Any, image, axes: str, what: Sequence[str], chunks) -> str:
    """Digest of the model (settings and fitted trees), the input's shape and the blocks."""
    meta = json.dumps(
        [model._metadata(), list(image.shape), str(image.dtype), axes, list(what), chunks],
        sort_keys=True,
        default=str,
    )
    h = hashlib.sha256(meta.encode())
    clf = model.classifier
    h.update(repr(sorted(clf.get_params().items(), key=str)).encode())
    for tree in getattr(clf, "estimators_", []):
        inner = getattr(tree, "tree_", None)
        if inner is not None:
            h.update(inner.threshold.tobytes())
            h.update(inner.feature.tobytes())
    return h.hexdigest()[:24]


def _store_block(block, targets, classes, sel, markers, idx) -> int:
    """Write one block into every target, then flag it done (the order matters)."""
    block = np.asarray(block)
    for arr, kind in targets:
        if kind == "labels":
            data = block if block.ndim == len(sel) else classes[np.argmax(block, axis=0)]
            arr[sel] = data.astype(arr.dtype, copy=False)
        else:
            arr[(slice(None), *sel)] = block
    markers[idx] = 1
    return 1


def _open_group(out: Any):
    zarr = _zarr()
    if isinstance(out, zarr.Group):
        return out
    if isinstance(out, zarr.Array):
        raise TypeError(
            "out= takes a path or a zarr group (the result and its progress markers go into "
            "the group); got a zarr array"
        )
    if isinstance(out, (str, os.PathLike)):
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise FileExistsError(f"cannot write {path}: it is a file, not a zarr store")
        try:
            return zarr.open_group(str(path), mode="a")
        except Exception as exc:
            raise ValueError(f"cannot write {path} as a zarr group ({exc})") from None
    raise TypeError(f"out= takes a path or a zarr group, got {type(out).__name__}")


def write_prediction(
    model: Any,
    image: Any,
    out: Any,
    axes: str | None = None,
    proba: bool = False,
    scheduler: Any = None,
    cancel: Any = None,
    callback: Callable[[int, int], None] | None = None,
    *,
    region: Any = None,
    what: Sequence[str] | None = None,
    scale: dict[str, float] | None = None,
    units: dict[str, str] | None = None,
):
    """Segment ``image`` into the zarr/OME-Zarr store ``out``; returns the zarr group.

    ``what``: ``("labels",)``, ``("proba",)`` or both (default: probabilities when
    ``proba`` else labels).  Labels go to ``out/0`` (an OME-Zarr image with the
    input's spatial axes and ``scale``); probabilities to ``out/0`` when alone, else
    to ``out/probabilities/0`` (axes ``c`` + spatial).
    """
    import dask

    if region is not None:
        raise ValueError("region= and out= cannot be combined: slice the input instead")
    what = tuple(what or (("proba",) if proba else ("labels",)))
    if not set(what) <= {"labels", "proba"} or not what:
        raise ValueError(f"what= must name 'labels' and/or 'proba', got {what!r}")
    check = cancel_check(cancel)
    model._check_trained()
    x = lazy.as_dask(image) if lazy.is_lazy(image) else _from_numpy(image)
    canon, layout = lazy.prepare(model, x, axes)
    spatial = layout.spatial_axes
    want_proba = "proba" in what
    result = lazy.predict(model, x, axes, want_proba, scheduler=scheduler)
    blocks = result.chunks[1:] if want_proba else result.chunks
    chunk_shape = tuple(c[0] for c in blocks)
    group = _open_group(out)
    fp = _fingerprint(model, x, layout.axes, what, [list(c) for c in blocks])
    state = dict(group.attrs.get("convpaint", {}))
    if state and state.get("fingerprint") != fp:
        raise FileExistsError(
            f"{out} holds a result of another model, input or chunking; remove it or write "
            "elsewhere"
        )
    classes = np.asarray(model.classes_)
    shape = tuple(sum(c) for c in blocks)
    if not state:
        targets = _create(group, what, shape, chunk_shape, classes, spatial, scale, units)
        group.create_array(
            MARKERS,
            shape=tuple(len(c) for c in blocks),
            chunks=(1,) * len(blocks),
            dtype="uint8",
            fill_value=0,
            overwrite=True,
        )
        group.attrs["convpaint"] = {"fingerprint": fp, "complete": False, "axes": spatial}
    elif state.get("complete"):
        return group
    targets = _targets(group, what)
    markers = group[MARKERS]
    done = markers[...]
    todo = [idx for idx in np.ndindex(done.shape) if not done[idx]]
    starts = [np.cumsum((0, *c[:-1])) for c in blocks]
    # batches of whole rows of blocks, at least 16 per worker: few barriers, bounded memory
    per_row = done.shape[-1]
    size = per_row * max(1, -(-16 * model.workers // per_row))
    batches = [todo[i : i + size] for i in range(0, len(todo), size)]
    total = int(done.size)
    finished = total - len(todo)
    sched = scheduler or "threads"
    workers = lazy.parallel_blocks(model, canon.shape)
    extra = {"num_workers": workers} if sched == "threads" else {}
    planes = int(np.prod(done.shape[:-2]))  # T/Z planes (or volumes) of blocks
    per_plane = int(np.prod(done.shape[-2:]))
    with progress_bar(total, "segmenting (blocks)", model.progress) as bar:
        bar.update(finished)
        for batch in batches:
            check()
            tasks = []
            for idx in batch:
                sel = tuple(
                    slice(int(s[i]), int(s[i]) + c[i])
                    for s, c, i in zip(starts, blocks, idx, strict=True)
                )
                src = result.blocks[((0,) if want_proba else ()) + idx]
                tasks.append(
                    dask.delayed(_store_block, pure=False)(src, targets, classes, sel, markers, idx)
                )
            dask.compute(*tasks, scheduler=sched, **extra)
            finished += len(batch)
            bar.update(len(batch))
            if planes > 1:  # blocks go plane after plane: whole planes done so far
                bar.set_postfix_str(f"plane {finished // per_plane}/{planes}", refresh=False)
            if callback is not None:
                callback(finished, total)
    group.attrs["convpaint"] = {**state, "fingerprint": fp, "complete": True, "axes": spatial}
    del group[MARKERS]
    return group


def _from_numpy(image: Any):
    import dask.array as da

    return da.from_array(np.asarray(image))


def _create(group, what, shape, chunks, classes, spatial, scale, units):
    from .model import _label_dtype

    k = len(classes)
    if "labels" in what:
        group.create_array(
            "0",
            shape=shape,
            chunks=chunks,
            dtype=_label_dtype(classes),
            fill_value=0,
            dimension_names=[a.lower() for a in spatial],
            overwrite=True,
        )
        write_multiscales(group, spatial, scale, units, name="convpaint labels")
        group.attrs["classes"] = classes.tolist()
    if "proba" in what:
        sub = group if what == ("proba",) else group.require_group(PROBA_GROUP)
        sub.create_array(
            "0",
            shape=(k, *shape),
            chunks=(k, *chunks),
            dtype="float32",
            fill_value=0.0,
            dimension_names=["c", *(a.lower() for a in spatial)],
            overwrite=True,
        )
        write_multiscales(sub, "C" + spatial, scale, units, name="convpaint probabilities")
        sub.attrs["classes"] = classes.tolist()


def _targets(group, what) -> list:
    out = []
    if "labels" in what:
        out.append((group["0"], "labels"))
    if "proba" in what:
        sub = group if what == ("proba",) else group[PROBA_GROUP]
        out.append((sub["0"], "proba"))
    return out
