"""convpaint.instances: semantic labels -> instance ids."""

import dask.array as da
import numpy as np
import pytest

from convpaint import instances as inst
from convpaint.instances import instance_table, to_instances


def disks(shape, specs, value=2, background=1):
    """A label image with disks ``(cy, cx, r)`` of ``value`` on ``background``; the masks."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    labels = np.full(shape, background, np.uint8)
    masks = [(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r for cy, cx, r in specs]
    for m in masks:
        labels[m] = value
    return labels, masks


def balls(shape, specs):
    zz, yy, xx = np.mgrid[: shape[0], : shape[1], : shape[2]]
    labels = np.ones(shape, np.uint8)
    masks = [(zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= r * r for z, y, x, r in specs]
    for m in masks:
        labels[m] = 2
    return labels, masks


def best_ious(ids, masks):
    """For each true mask, the IoU of the instance that overlaps it most."""
    out = []
    for m in masks:
        i = np.bincount(ids[m]).argmax()
        out.append(((ids == i) & m).sum() / ((ids == i) | m).sum() if i else 0.0)
    return out


def n_ids(ids):
    return len(np.unique(ids[ids > 0]))


TWO = [(40, 40, 18), (40, 73, 18)]  # centres 33 apart, radii 18: an overlap, one blob
THREE = [(40, 40, 18), (40, 73, 18), (70, 57, 17)]


@pytest.mark.parametrize("specs", [TWO, THREE], ids=["two", "three"])
def test_touching_disks_are_split(specs):
    labels, masks = disks((110, 120), specs)
    ids = to_instances(labels)
    assert ids.dtype == np.int32 and ids.shape == labels.shape
    assert n_ids(ids) == len(specs)
    assert min(best_ious(ids, masks)) > 0.9
    assert set(np.unique(ids)) == set(range(len(specs) + 1))  # consecutive from 1
    # without splitting they are one object
    assert n_ids(to_instances(labels, split_touching=False)) == 1


def test_one_round_object_is_one_instance_even_with_a_ragged_border():
    rng = np.random.default_rng(1)
    labels, _ = disks((80, 80), [(40, 40, 25)])
    edge = (labels == 2) ^ (np.roll(labels == 2, 1, 0) & np.roll(labels == 2, -1, 1))
    labels[edge & (rng.random(labels.shape) < 0.5)] = 1  # nibble the border
    assert n_ids(to_instances(labels, min_size=0)) == 1
    ellipse = np.ones((60, 120), np.uint8)
    yy, xx = np.mgrid[:60, :120]
    ellipse[((yy - 30) / 12) ** 2 + ((xx - 60) / 50) ** 2 <= 1] = 2
    assert n_ids(to_instances(ellipse)) == 1


def test_classes_are_separated_independently_and_never_share_an_instance():
    labels, masks = disks((60, 120), [(30, 30, 15), (30, 59, 15)])
    labels[masks[1]] = 3  # two touching disks of different classes
    ids = to_instances(labels, split_touching=False)
    assert n_ids(ids) == 2
    for c in (2, 3):
        assert len(np.unique(ids[labels == c])) == 1
    assert n_ids(to_instances(labels, classes=[3])) == 1
    assert n_ids(to_instances(labels, classes=[])) == 0


def test_default_classes_and_background_name():
    labels, _ = disks((60, 60), [(30, 30, 10)])
    # most frequent class (1) is background
    assert n_ids(to_instances(labels)) == 1
    # named background wins, whatever its frequency
    ids = to_instances(labels, class_names={1: "nuclei", 2: "Background"}, split_touching=False)
    assert n_ids(ids) == 1 and (ids[labels == 2] == 0).all() and (ids[labels == 1] > 0).all()
    # 0 present: background (Convpaint's label convention), even if it is rarer
    binary = np.where(labels == 2, 0, 1).astype(np.uint8)
    ids = to_instances(binary, fill_holes=False, split_touching=False)
    assert (ids[binary == 0] == 0).all() and n_ids(ids) == 1


def test_min_size_drops_isolated_and_merges_fragments():
    labels = np.ones((40, 60), np.uint8)
    labels[5:8, 5:8] = 2  # 9 pixels, alone
    labels[20:30, 20:30] = 2  # 100 pixels
    ids = to_instances(labels, min_size=10, split_touching=False)
    assert n_ids(ids) == 1 and (ids[5:8, 5:8] == 0).all()
    assert n_ids(to_instances(labels, min_size=0, split_touching=False)) == 2
    # a fragment below min_size joins the neighbour it shares most border with
    frag = np.array([[1, 1, 0, 2, 2], [1, 1, 3, 2, 2], [1, 1, 3, 2, 2], [1, 1, 0, 2, 2]])
    frag = np.kron(frag, np.ones((3, 3), int))
    frag[3:9, 6:9][[0, 5]] = 3  # extend 3 along column 1's edges: more border with 1
    merged = inst._merge_small(frag.copy(), 20, np.ones((3, 3), bool))
    assert (merged[frag == 3] == 1).all() and (merged[frag == 2] == 2).all()


def test_holes_are_filled_up_to_the_size_and_never_over_other_classes():
    labels = np.ones((50, 50), np.uint8)
    labels[10:40, 10:40] = 2
    labels[14:16, 14:16] = 1  # 4-pixel hole
    labels[20:30, 20:30] = 1  # 100-pixel hole
    ids = to_instances(labels, fill_holes=10, split_touching=False)
    assert ids[14, 14] > 0 and ids[25, 25] == 0
    assert (to_instances(labels, fill_holes=True, split_touching=False)[20:30, 20:30] > 0).all()
    assert to_instances(labels, fill_holes=False, split_touching=False)[14, 14] == 0
    labels[24:26, 24:26] = 3  # an object of another class inside the large hole
    ids = to_instances(labels, fill_holes=True, split_touching=False, min_size=0)
    assert n_ids(ids) == 2 and len(np.unique(ids[24:26, 24:26])) == 1
    assert ids[22, 22] == 0  # that hole is not filled: it holds class 3


def test_per_plane_stack_ids_unique_and_planes_independent():
    a, _ = disks((90, 110), TWO)
    b, _ = disks((90, 110), [(45, 55, 20)])
    stack = np.stack([a, b, a])
    ids = to_instances(stack, axes="TYX")
    assert [n_ids(p) for p in ids] == [2, 1, 2]
    assert n_ids(ids) == 5 and ids.max() == 5
    assert np.array_equal(ids[1] > 0, b == 2)
    # ZYX per plane == TYX; axes order is honoured
    assert np.array_equal(to_instances(stack, axes="ZYX", per_plane=True), ids)
    moved = to_instances(np.moveaxis(stack, 0, -1), axes="YXT")
    assert np.array_equal(np.moveaxis(moved, -1, 0), ids)


def test_3d_balls_touching_are_split_and_span_planes():
    labels, masks = balls((40, 40, 60), [(20, 20, 18, 11), (20, 20, 38, 11)])
    ids = to_instances(labels, axes="ZYX")
    assert n_ids(ids) == 2 and min(best_ious(ids, masks)) > 0.9
    flat = to_instances(labels, axes="ZYX", per_plane=True)
    assert n_ids(flat) > 2  # per plane: new ids in every plane
    # anisotropic: Z squashed by 2 with spacing (2, 1, 1) still gives two balls
    squashed = labels[::2]
    assert n_ids(to_instances(squashed, axes="ZYX", spacing=(2, 1, 1))) == 2


def test_lazy_equals_in_memory_per_plane_and_3d():
    a, _ = disks((90, 110), THREE)
    b, _ = disks((90, 110), TWO)
    stack = np.stack([a, b, a[::-1], b[:, ::-1]]).reshape(2, 2, 90, 110)
    eager = to_instances(stack, axes="TZYX", per_plane=True)
    lazy = to_instances(da.from_array(stack, chunks=(1, 2, 45, 50)), axes="TZYX", per_plane=True)
    assert isinstance(lazy, da.Array) and lazy.dtype == np.int32
    assert lazy.chunks[-2:] == ((90,), (110,))
    assert np.array_equal(lazy.compute(), eager)
    assert np.array_equal(lazy[1, 0].compute(), eager[1, 0])  # one plane alone: same ids
    vol, _ = balls((20, 30, 50), [(10, 15, 15, 9), (10, 15, 32, 9)])
    vols = np.stack([vol, vol[:, :, ::-1]])
    lazy3 = to_instances(da.from_array(vols, chunks=(1, 10, 15, 25)), axes="TZYX")
    assert np.array_equal(lazy3.compute(), to_instances(vols, axes="TZYX"))


def test_lazy_volume_larger_than_the_bound_raises(monkeypatch):
    monkeypatch.setattr(inst, "MAX_LAZY_UNIT", 1000)
    x = da.ones((20, 30, 30), np.uint8, chunks=10)
    with pytest.raises(ValueError, match="in-memory bound"):
        to_instances(x, axes="ZYX", classes=[1])
    assert to_instances(x, axes="ZYX", per_plane=True, classes=[1]).shape == x.shape


def test_deterministic_and_float_integer_labels_accepted():
    labels, _ = disks((110, 120), THREE)
    first = to_instances(labels)
    assert all(np.array_equal(first, to_instances(labels)) for _ in range(3))
    assert np.array_equal(to_instances(labels.astype(np.float32)), first)


def test_instance_table():
    labels, _ = disks((60, 120), [(30, 30, 10), (30, 80, 12)])
    labels[labels == 2] = 2
    labels[:, 60:][labels[:, 60:] == 2] = 3
    ids = to_instances(labels, split_touching=False)
    table = instance_table(ids, labels, class_names={2: "small", 3: "large"})
    assert table["id"].tolist() == [1, 2]
    assert table["class"].tolist() == [2, 3] and table["name"].tolist() == ["small", "large"]
    assert table["area"][1] > table["area"][0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_size": -1}, ValueError, "min_size must be >= 0"),
        ({"min_size": 2.5}, TypeError, "min_size must be an integer"),
        ({"axes": "ZYX"}, ValueError, "do not fit"),
        ({"axes": "CX"}, ValueError, "do not fit"),
        ({"per_plane": False}, ValueError, "needs a Z axis"),
        ({"class_names": ["a", "b"]}, TypeError, "mapping"),
        ({"class_names": {1: 5}}, TypeError, "values must be strings"),
        ({"class_names": {"1": "a"}}, TypeError, "keys must be integer"),
        ({"classes": [1.5]}, TypeError, "integer class values"),
        ({"fill_holes": -3}, ValueError, "fill_holes"),
        ({"spacing": (1, 0)}, ValueError, "positive"),
        ({"split_depth": 0}, ValueError, "split_depth"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    labels, _ = disks((30, 30), [(15, 15, 5)])
    with pytest.raises(error, match=match):
        to_instances(labels, **kwargs)


def test_bad_labels():
    with pytest.raises(ValueError, match="NaN"):
        to_instances(np.array([[1.0, np.nan], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="non-integer"):
        to_instances(np.array([[1.0, 1.5], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        to_instances(da.from_array(np.array([[1.0, np.nan], [2.0, 1.0]])))
    with pytest.raises(TypeError, match="integer image"):
        to_instances(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="pass axes="):
        to_instances(np.ones((3, 4, 5), np.uint8))


def test_lazy_default_classes_zarr_and_bool_inputs():
    labels, _ = disks((90, 110), THREE)
    eager = to_instances(labels)
    lazy = to_instances(da.from_array(labels, chunks=30))  # default classes read lazily
    assert isinstance(lazy, da.Array) and np.array_equal(lazy.compute(), eager)
    zarr = pytest.importorskip("zarr")
    z = zarr.create_array(store={}, shape=labels.shape, chunks=(30, 30), dtype=labels.dtype)
    z[:] = labels
    assert np.array_equal(np.asarray(to_instances(z)), eager)
    assert np.array_equal(to_instances(labels == 2), eager)  # True = objects
