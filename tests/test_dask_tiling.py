"""The tile layout is dask's map_overlap layout: the same block function gives the same features."""

import dask.array as da
import numpy as np
import pytest

import convpaint
from convpaint.inputs import prepare_image
from convpaint.tiling import round_up
from convpaint.units import make_units


@pytest.mark.parametrize(
    "name, kwargs", [("sobel", {"scalings": (1, 2, 4)}), ("raw", {"scalings": (1, 3)})]
)
def test_map_overlap_reproduces_features(name, kwargs):
    rng = np.random.default_rng(0)
    image = rng.random((184, 180)).astype(np.float32)  # last chunks >= halo: no dask rechunk
    model = convpaint.ConvpaintModel(name, **kwargs)
    reference = model.compute_features(image)
    canon, _ = prepare_image(image, None)
    plane = make_units(canon, model.normalize, False)[0].data  # (C, Y, X), normalised
    pipeline = model.pipeline
    chunk = round_up(48, pipeline.align)
    assert pipeline.halo <= 36 and chunk == 48
    x = da.from_array(plane, chunks=(plane.shape[0], chunk, chunk))
    features = x.map_overlap(
        pipeline.block_features,
        depth={0: 0, 1: pipeline.halo, 2: pipeline.halo},
        boundary="reflect",
        trim=False,
        dtype=np.float32,
        chunks=((reference.shape[0],), *x.chunks[1:]),
    ).compute(scheduler="threads")
    assert np.array_equal(features, reference)
