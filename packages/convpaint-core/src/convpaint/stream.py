"""Streamed results: labels and probabilities written into zarr block by block, resumable.

The prediction graph of :mod:`convpaint.lazy` is computed a few rows of blocks
at a time; each task classifies its block, writes it into the output arrays and
then sets the block's flag in a small marker array (``convpaint_done``, one
zarr chunk per block).  zarr's local store writes every chunk atomically
(temporary file + rename), and a block whose flag is not set is simply
computed and written again, so an interrupted run resumes where it stopped
and never leaves a half-written chunk behind.  When every block is done the
group's ``convpaint`` attribute says ``complete`` and the markers are removed.

The group records what it was made from: the model's fingerprint (the content
of its model file) and a content hash of the input.  A store made by another
model, or from another input, is refused with an error naming both, and an
existing folder that is not such a store is never written into.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .classifier import label_dtype
from .ome import _zarr, write_label_metadata, write_multiscales
from .progress import progress_bar

MARKERS = "convpaint_done"
PROBA_GROUP = "probabilities"
KINDS = ("labels", "proba")


class _Writes(Protocol):
    def write(self, image: Any, out: Any, axes: str | None = None, **kwargs: Any) -> Any: ...


def write_prediction(
    model: _Writes,
    image: Any,
    out: Any,
    axes: str | None = None,
    proba: bool = False,
    scheduler: Any = None,
    cancel: Any = None,
    callback: Callable[[int, int], None] | None = None,
    *,
    what: Sequence[str] | None = None,
    scale: dict[str, float] | None = None,
    units: dict[str, str] | None = None,
):
    """``model.write(image, out, ...)``: segment ``image`` into the zarr store ``out``.

    ``what``: ``("labels",)``, ``("proba",)`` or both (default: probabilities when
    ``proba`` else labels).  Labels go to ``out/0`` (an OME-Zarr image with the
    input's spatial axes and ``scale``); probabilities to ``out/0`` when alone, else
    to ``out/probabilities/0`` (axes ``c`` + spatial).
    """
    what = tuple(what or (("proba",) if proba else ("labels",)))
    return model.write(
        image,
        out,
        axes,
        what=what,
        scheduler=scheduler,
        cancel=cancel,
        callback=callback,
        scale=scale,
        units=units,
    )


def check_what(what: Sequence[str]) -> tuple[str, ...]:
    what = tuple(what)
    if not what or not set(what) <= set(KINDS) or len(set(what)) != len(what):
        raise ValueError(f"what= must name 'labels' and/or 'proba', got {what!r}")
    return what


def as_lazy(image: Any):
    """A dask view of an in-memory image (streamed like a lazy one)."""
    import dask.array as da

    return da.from_array(np.asarray(image))


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


def open_group(out: Any, sources: Sequence[Any] = ()):
    """The zarr group ``out`` (a path or a group), refusing an output that is or lies in
    an input and an existing folder that is not a Convpaint result store."""
    from .paths import check_output, check_store_target, source_paths

    zarr = _zarr()
    if isinstance(out, zarr.Array):
        raise TypeError(
            "out= takes a path or a zarr group (the result and its progress markers go into "
            "the group); got a zarr array"
        )
    inputs = [p for src in sources for p in source_paths(src)]
    if isinstance(out, zarr.Group):
        for p in source_paths(out):
            check_output(p, inputs)
        return out
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out= takes a path or a zarr group, got {type(out).__name__}")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise FileExistsError(f"cannot write {path}: it is a file, not a zarr store")
    check_output(path, inputs)
    check_store_target(path)
    try:
        return zarr.open_group(str(path), mode="a")
    except Exception as exc:
        raise ValueError(f"cannot write {path} as a zarr group ({exc})") from None


def write_result(
    result,
    out: Any,
    *,
    what: tuple[str, ...],
    classes: np.ndarray,
    spatial_axes: str,
    identity: dict[str, str],
    workers: int = 1,
    scheduler: Any = None,
    check: Callable[[], None] = lambda: None,
    callback: Callable[[int, int], None] | None = None,
    progress: bool | None = None,
    scale: dict[str, float] | None = None,
    units: dict[str, str] | None = None,
    sources: Sequence[Any] = (),
    names: dict[int, str] | None = None,
    colors: dict[int, str] | None = None,
):
    """Compute the dask ``result`` (labels, or probabilities with the class axis first when
    ``"proba"`` is in ``what``) block by block into the store ``out``; returns the group.

    ``identity`` (``{"model": ..., "input": ...}`` digests) is recorded: a store holding
    another identity is refused; one holding the same resumes or is returned as complete.
    """
    import dask

    check()
    want_proba = "proba" in what
    blocks = result.chunks[1:] if want_proba else result.chunks
    chunk_shape = tuple(max(c) for c in blocks)
    group = open_group(out, sources)
    made = {**identity, "what": list(what), "chunks": [list(c) for c in blocks]}
    state = dict(group.attrs.get("convpaint", {}))
    if state:
        _check_same(out, state, made)
        if state.get("complete"):
            return group
    shape = tuple(sum(c) for c in blocks)
    if not state or MARKERS not in group:
        # claim the group first: a run killed while creating the arrays leaves a store that
        # the next run recognises (same record) and recreates
        group.attrs["convpaint"] = {**made, "complete": False, "axes": spatial_axes}
        _create(group, what, shape, chunk_shape, classes, spatial_axes, scale, units)
        if names is not None and colors is not None:
            _name_classes(group, what, names, colors)
        group.create_array(
            MARKERS,
            shape=tuple(len(c) for c in blocks),
            chunks=(1,) * len(blocks),
            dtype="uint8",
            fill_value=0,
            overwrite=True,
        )
        state = {**made, "complete": False, "axes": spatial_axes}
        group.attrs["convpaint"] = state
    targets = _targets(group, what)
    markers = group[MARKERS]
    done = markers[...]
    todo = [idx for idx in np.ndindex(done.shape) if not done[idx]]
    starts = [np.cumsum((0, *c[:-1])) for c in blocks]
    # batches of whole rows of blocks, at least 16 per worker: few barriers, bounded memory
    per_row = done.shape[-1]
    size = per_row * max(1, -(-16 * workers // per_row))
    batches = [todo[i : i + size] for i in range(0, len(todo), size)]
    total = int(done.size)
    finished = total - len(todo)
    sched = scheduler or "threads"
    extra = {"num_workers": workers} if sched == "threads" else {}
    planes = int(np.prod(done.shape[:-2]))  # T/Z planes (or volumes) of blocks
    per_plane = int(np.prod(done.shape[-2:]))
    with progress_bar(total, "segmenting (blocks)", progress) as bar:
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
    group.attrs["convpaint"] = {**state, "complete": True}
    del group[MARKERS]
    return group


def _check_same(out: Any, state: dict, made: dict) -> None:
    """Refuse a store made from another model, input, output kind or chunking."""
    names = {"model": "model", "input": "input image", "what": "outputs", "chunks": "blocks"}
    for key, name in names.items():
        if state.get(key) != made[key]:
            raise FileExistsError(
                f"{out} holds a result of another {name} ({key} {_short(state.get(key))}; "
                f"this call: {_short(made[key])}); it is not reused: remove it or write "
                "elsewhere"
            )


def _short(value: Any) -> str:
    return value[:16] if isinstance(value, str) else repr(value)[:40]


def _create(group, what, shape, chunks, classes, spatial, scale, units):
    k = len(classes)
    if "labels" in what:
        group.create_array(
            "0",
            shape=shape,
            chunks=chunks,
            dtype=label_dtype(classes),
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


def _name_classes(group, what, names: dict[int, str], colors: dict[int, str]) -> None:
    """Class names and colours: NGFF ``image-label`` metadata on the labels image and
    ``class_names`` beside ``classes`` on the probabilities."""
    if "labels" in what:
        write_label_metadata(group, names, colors)
    if "proba" in what:
        sub = group if what == ("proba",) else group[PROBA_GROUP]
        sub.attrs["class_names"] = [names[v] for v in sorted(names)]


def _targets(group, what) -> list:
    out = []
    if "labels" in what:
        out.append((group["0"], "labels"))
    if "proba" in what:
        sub = group if what == ("proba",) else group[PROBA_GROUP]
        out.append((sub["0"], "proba"))
    return out
