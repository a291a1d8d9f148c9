"""Lazy inputs (dask and zarr arrays): never read whole.

* Normalisation statistics come from a reduction pass over fixed row blocks
  (:func:`convpaint.normalize.moments` sums the same blocks in memory), so
  they are the same numbers as for the in-memory array, whatever the chunking.
* Prediction is a dask graph: ``map_overlap`` with the pipeline's halo (the
  layout of :mod:`convpaint.tiling`), each block featurised *and classified*
  inside its task (:class:`BlockPredictor`), so only labels or probabilities
  leave a task.  Threads by default; ``scheduler=`` takes any dask scheduler,
  e.g. a ``dask.distributed.Client``.
* Training reads only the tiles that hold scribbles.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .axes import CANONICAL, SPATIAL, Layout, resolve_axes
from .classifier import predict_proba_features
from .feature_maps import FeatureMaps
from .normalize import block_rows, block_stats, combine, intensity_range
from .refine import refine
from .region import parse_region


def is_lazy(array: Any) -> bool:
    """A dask array or a zarr array (anything else is read with ``np.asarray``)."""
    if isinstance(array, np.ndarray) or not hasattr(array, "shape"):
        return False
    module = type(array).__module__
    return module.startswith(("dask.", "zarr."))


def as_dask(array: Any):
    import dask.array as da

    if isinstance(array, da.Array):
        return array
    chunks = getattr(array, "chunks", None) or "auto"
    return da.from_array(array, chunks=chunks, asarray=False)


def canonical(x, layout: Layout):
    """A (T, Z, C, Y, X) view of a dask array (as :func:`convpaint.axes.to_canonical`)."""
    axes = layout.axes
    for letter in CANONICAL:
        if letter not in axes:
            x = x[..., None]
            axes += letter
    x = x.transpose([axes.index(letter) for letter in CANONICAL])
    return x[:, :, :3] if layout.drop_alpha else x


def from_canonical(x, layout: Layout, leading: int = 0):
    """(lead..., T, Z, Y, X) -> (lead..., *spatial axes in the user's order), for dask."""
    axes = layout.spatial_axes
    index = [slice(None)] * leading + [slice(None) if a in axes else 0 for a in SPATIAL]
    x = x[tuple(index)]
    kept = [a for a in SPATIAL if a in axes]
    order = list(range(leading)) + [leading + kept.index(a) for a in axes]
    return x.transpose(order)


def prepare(model: Any, image: Any, axes: str | None):
    """Checks of ``ConvpaintModel._prepare`` without reading the pixels: (canon, layout)."""
    x = as_dask(image)
    kind = x.dtype.kind
    if kind == "c":
        raise TypeError(f"image is complex-valued ({x.dtype}); pass a real image")
    if kind not in "biuf":
        raise TypeError(f"image dtype {x.dtype} is not numeric")
    try:
        layout = resolve_axes(x.shape, axes)
    except ValueError:
        if axes is not None or not model.axes_ or len(model.axes_) != x.ndim:
            raise
        layout = resolve_axes(x.shape, model.axes_)
    canon = canonical(x, layout)
    if min(canon.shape[-2:]) < 1:
        raise ValueError(f"image has an empty spatial dimension: {x.shape}")
    if model.n_channels_ is not None and canon.shape[2] != model.n_channels_:
        raise ValueError(
            f"image has {canon.shape[2]} channel(s) but the model was trained on {model.n_channels_}"
        )
    return canon, layout


# -- normalisation -------------------------------------------------------------------------
def _stats_block(block):
    return np.array(block_stats(block[0, 0, 0])).reshape(1, 1, 1, 1, 2)


def moments(canon, mode: str, scheduler=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`convpaint.normalize.moments` of a lazy (T, Z, C, Y, X) array: one reduction
    pass over the same row blocks, combined by the same function."""
    nt, nz, nc, ny, nx = canon.shape
    rows = tuple(r.stop - r.start for r in block_rows(ny))
    x = canon.rechunk((1, 1, 1, rows, nx))
    stats = x.map_blocks(_stats_block, chunks=(1, 1, 1, 1, 2), dtype=np.float64)
    return combine(stats.compute(scheduler=scheduler), mode, ny, nx)


def normalized(canon, mode: str, t: slice = slice(None), z: slice = slice(None), scheduler=None):
    """Lazy float32 ``canon[t, z]`` normalised as :func:`convpaint.normalize.normalize` does."""
    import dask.array as da

    sel = canon[t, z].astype(np.float32)
    if mode == "none":
        if sel.dtype.kind == "f":
            bad = (~da.isfinite(sel)).any().compute(scheduler=scheduler)
            if bad:
                raise ValueError("image contains NaN or infinite values; fill or mask them first")
        return sel
    mean, std = moments(canon[t, z] if mode == "image" else canon, mode, scheduler)
    return (sel - mean) / std


# -- tiles -----------------------------------------------------------------------------------
def splits(n: int, tile: int, halo: int) -> tuple[int, ...]:
    """Chunk sizes of ``tile`` along an axis of length ``n``; a last chunk smaller than the
    halo joins the one before (``map_overlap`` needs chunks >= its depth)."""
    sizes = [tile] * (n // tile) + ([n % tile] if n % tile else [])
    if len(sizes) > 1 and sizes[-1] < halo:
        sizes[-2] += sizes.pop()
    return tuple(sizes)


def starts(sizes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(itertools.accumulate((0, *sizes[:-1])))


class BlockPredictor:
    """Picklable block function: a halo-padded (1, Z, C, Y, X) block -> (1, Z, K, y, x) labels
    (K = 1) or probabilities (K = classes) of its interior, exactly as the tiled path."""

    def __init__(self, model: Any, dtype: np.dtype, halo: int, origins, proba: bool) -> None:
        self.pipeline = model.pipeline
        self.classifier = model.classifier
        self.classes = np.asarray(model.classes_)
        self.n_features = model.n_features_
        self.full_scale = intensity_range(dtype)
        self.margin = halo - model.pipeline.halo
        self.stride = model.coarse_to_fine
        self.volumetric = model.volumetric
        self.origins = origins  # chunk starts along Y and X
        self.proba = proba
        from .model import _label_dtype

        self.out_dtype = np.float32 if proba else _label_dtype(self.classes)

    def _proba_of(self, x: np.ndarray) -> np.ndarray:
        return predict_proba_features(self.classifier, x)

    def _classify(self, feats: FeatureMaps, origin: tuple[int, int]) -> np.ndarray:
        if feats.shape[0] != self.n_features:
            raise ValueError(
                f"the extractor gives {feats.shape[0]} features per pixel but the classifier "
                f"was trained on {self.n_features}"
            )
        if self.stride > 1:
            return refine(feats, self._proba_of, origin, self.margin, self.stride, 0.6)
        dense = feats.dense()
        shape = dense.shape[1:]
        return self._proba_of(dense.reshape(dense.shape[0], -1)).reshape(-1, *shape)

    def __call__(self, block: np.ndarray, block_id=None) -> np.ndarray:
        origin = (self.origins[0][block_id[3]], self.origins[1][block_id[4]])
        block = np.asarray(block, dtype=np.float32)
        if self.volumetric:  # (K, Z, y, x) -> (Z, K, y, x)
            proba = self._classify(self._features(np.moveaxis(block[0], 1, 0)), origin)
            stacked = np.moveaxis(proba, 1, 0)
        else:
            stacked = np.stack(
                [self._classify(self._features(block[0, k]), origin) for k in range(block.shape[1])]
            )
        if self.proba:
            return stacked[None].astype(np.float32, copy=False)
        labels = self.classes[np.argmax(stacked, axis=1)].astype(self.out_dtype)
        return labels[None, :, None]

    def _features(self, unit: np.ndarray) -> FeatureMaps:
        return self.pipeline.block_maps(unit, self.full_scale)


def parallel_blocks(model: Any, canon_shape: tuple[int, ...]) -> int:
    """Blocks to compute at once: the model's workers, fewer for large volumetric tiles."""
    _, nz, _, ny, nx = canon_shape
    depth = nz if model.volumetric else 1
    return model._workers_for(model._grid((ny, nx), training=False, depth=depth), depth)


def predict(
    model: Any, image: Any, axes: str | None, proba: bool, region: Any = None, scheduler=None
):
    """Labels (or probabilities, class axis first) of a lazy ``image`` as a dask array in
    the user's axes; ``region`` indexes it like :meth:`ConvpaintModel.segment`."""
    model._check_trained()
    canon, layout = prepare(model, image, axes)
    nt, nz, nc, ny, nx = canon.shape
    parse_region(region, layout, (nt, nz, ny, nx))  # checks only
    grid = model._grid((ny, nx), training=False, depth=nz)
    halo = grid.halo
    if min(ny, nx) <= halo:  # smaller than one halo: in memory is cheapest
        import dask.array as da

        small = np.asarray(as_dask(image).compute(scheduler=scheduler))
        fn = model.predict_proba if proba else model.segment
        return da.from_array(fn(small, axes=layout.axes, region=region))
    norm = normalized(canon, model.normalize, scheduler=scheduler)
    ys, xs = splits(ny, grid.tile, halo), splits(nx, grid.tile, halo)
    zc = nz if model.volumetric else 1
    norm = norm.rechunk((1, zc, nc, ys, xs))
    fn = BlockPredictor(model, canon.dtype, halo, (starts(ys), starts(xs)), proba)
    k = len(model.classes_) if proba else 1
    out = norm.map_overlap(
        fn,
        depth={0: 0, 1: 0, 2: 0, 3: halo, 4: halo},
        boundary="reflect",
        trim=False,
        dtype=fn.out_dtype,
        chunks=(norm.chunks[0], norm.chunks[1], (k,), ys, xs),
        name=f"convpaint-{'proba' if proba else 'labels'}",
    )
    out = out.transpose(2, 0, 1, 3, 4) if proba else out[:, :, 0]
    out = from_canonical(out, layout, leading=1 if proba else 0)
    return out[_lead(region, proba)] if region is not None else out


def _lead(region: Any, proba: bool) -> tuple:
    region = region if isinstance(region, tuple) else (region,)
    return ((slice(None),) if proba else ()) + region


# -- training --------------------------------------------------------------------------------
def _tile_samples(block, ann, model_pipeline, full_scale, margin, volumetric, origin, shape):
    """(x, y, keys) of the scribbled pixels of one tile (keys: global raveled (T, Z, Y, X))."""
    t, z0, y0, x0 = origin
    block = np.asarray(block, dtype=np.float32)
    unit = np.moveaxis(block[0], 1, 0) if volumetric else block[0, 0]
    feats = model_pipeline.block_features(unit, full_scale)
    if margin:
        feats = feats[..., margin:-margin, margin:-margin]
    lab = np.asarray(ann)[0] if volumetric else np.asarray(ann)[0, 0]
    sel = lab > 0
    pos = np.indices(lab.shape)[:, sel]
    if not volumetric:
        pos = np.concatenate([np.full((1, pos.shape[1]), z0), pos])
    pos[-2] += y0
    pos[-1] += x0
    keys = np.ravel_multi_index((np.full(pos.shape[1], t), *pos), shape)
    return feats[:, sel].T, lab[sel], keys


def _any_positive(block: np.ndarray) -> np.ndarray:
    return np.array((block > 0).any(), ndmin=4)


def training_samples(model: Any, image: Any, annotations: Any, axes: str | None, check):
    """(x, y) of the scribbled pixels of a lazy image, in the in-memory path's order."""
    import dask
    import dask.array as da

    canon, layout = prepare(model, image, axes)
    nt, nz, nc, ny, nx = canon.shape
    model.n_channels_ = nc
    model.axes_ = layout.axes
    ann = as_dask(annotations) if is_lazy(annotations) else da.from_array(np.asarray(annotations))
    if ann.dtype.kind not in "biu":
        raise ValueError(f"annotations of a lazy image must be integer labels, got {ann.dtype}")
    spatial = layout.spatial_axes
    if ann.ndim != len(spatial):
        raise ValueError(
            f"annotations have {ann.ndim} dimensions {ann.shape}, expected {len(spatial)} "
            f"({spatial}) to match the image"
        )
    for letter in SPATIAL:
        if letter not in spatial:
            ann = ann[..., None]
            spatial += letter
    ann = ann.transpose([spatial.index(a) for a in SPATIAL])
    if ann.shape != (nt, nz, ny, nx):
        raise ValueError(f"annotations shape {ann.shape} does not match the image's spatial shape")
    grid = model._grid((ny, nx), training=True, depth=nz)
    halo = grid.halo
    ys, xs = splits(ny, grid.tile, halo), splits(nx, grid.tile, halo)
    zc = nz if model.volumetric else 1
    ann = ann.rechunk((1, zc, ys, xs))
    has = ann.map_blocks(_any_positive, chunks=(1, 1, 1, 1), dtype=bool)
    negative = (ann < 0).any() if ann.dtype.kind == "i" else da.zeros((), bool)
    has, negative = dask.compute(has, negative)
    if negative:
        raise ValueError("annotations must be >= 0 (0 = unlabelled)")
    jobs = list(zip(*np.nonzero(has), strict=True))
    if not jobs:
        raise ValueError("annotations are empty: draw at least one scribble (labels > 0)")
    check()
    t_sel = sorted({j[0] for j in jobs})
    t_range = slice(t_sel[0], t_sel[-1] + 1)
    if model.volumetric:
        z_range = slice(None)
    else:
        z_sel = sorted({j[1] for j in jobs})
        z_range = slice(z_sel[0], z_sel[-1] + 1)
    norm = normalized(canon, model.normalize, t_range, z_range)
    t0, z0 = t_range.indices(nt)[0], z_range.indices(nz)[0]
    norm = norm.rechunk((1, zc, nc, ys, xs))
    padded = da.overlap.overlap(norm, {0: 0, 1: 0, 2: 0, 3: halo, 4: halo}, boundary="reflect")
    margin = halo - model.pipeline.halo
    scale = intensity_range(canon.dtype)
    y_at, x_at = starts(ys), starts(xs)
    tasks = []
    for t, zb, iy, ix in jobs:
        origin = (t, zb * zc, y_at[iy], x_at[ix])
        block = padded.blocks[t - t0, zb - (z0 // zc), 0, iy, ix]
        tasks.append(
            dask.delayed(_tile_samples, pure=True)(
                block,
                ann.blocks[t, zb, iy, ix],
                model.pipeline,
                scale,
                margin,
                model.volumetric,
                origin,
                (nt, nz, ny, nx),
            )
        )
    workers = model._workers_for(grid, nz if model.volumetric else 1)
    results = dask.compute(*tasks, scheduler="threads", num_workers=workers)
    check()
    keys = np.concatenate([r[2] for r in results])
    order = np.argsort(keys, kind="stable")
    x = np.concatenate([r[0] for r in results], axis=0)[order]
    y = np.concatenate([r[1] for r in results]).astype(np.int64)[order]
    return x, y


__all__ = ["BlockPredictor", "as_dask", "is_lazy", "moments", "predict", "training_samples"]
