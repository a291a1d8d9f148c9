"""Scribble generation: coverage, class completeness, purity, determinism."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from skimage.draw import disk, rectangle

from convpaint.scribbles import (
    ScribbleCoverageWarning,
    ScribbleGenerator,
    classes_to_labels,
    generate_scribbles,
    instances_to_semantic,
    labels_to_classes,
    scribble_coverage,
)

DSB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dsb2018_stage1_train"


def shapes_mask() -> np.ndarray:
    """Background, a big disk, a rectangle, a thin bar and a 2-pixel class."""
    m = np.zeros((128, 160), np.uint8)
    m[disk((60, 50), 35, shape=m.shape)] = 1
    m[rectangle((10, 100), end=(110, 140), shape=m.shape)] = 2
    m[120:123, 5:150] = 3
    m[2, 2:4] = 4
    return m


def cells_mask(seed: int = 3) -> np.ndarray:
    """Many small nuclei-like disks (instance ids), like a fluorescence image."""
    rng = np.random.default_rng(seed)
    m = np.zeros((200, 220), np.uint16)
    for i in range(1, 40):
        r, c = rng.integers(8, 192), rng.integers(8, 212)
        m[disk((r, c), rng.integers(3, 9), shape=m.shape)] = i
    return m


def check(mask: np.ndarray, labels: np.ndarray, coverage: float, tol: float = 0.2) -> None:
    classes = labels_to_classes(labels)
    scribbled = classes >= 0
    # never outside its class
    assert np.array_equal(classes[scribbled], mask[scribbled])
    # every class present gets scribbles
    assert set(np.unique(classes[scribbled])) == set(np.unique(mask))
    got = scribble_coverage(labels)
    assert abs(got - coverage) <= tol * coverage, (got, coverage)


@pytest.mark.parametrize("coverage", [0.001, 0.005, 0.01, 0.025, 0.1])
@pytest.mark.parametrize("width", [1, 2, 3])
def test_shapes_coverage_classes_purity(coverage: float, width: int) -> None:
    mask = shapes_mask()
    labels = generate_scribbles(mask, coverage, line_width=width, seed=1)
    assert labels.shape == mask.shape
    check(mask, labels, coverage)


@pytest.mark.parametrize("coverage", [0.001, 0.01, 0.05])
def test_instance_cells(coverage: float) -> None:
    sem = instances_to_semantic(cells_mask())
    assert set(np.unique(sem)) == {0, 1}
    labels = generate_scribbles(sem, coverage, line_length=8, seed=0)
    check(sem, labels, coverage)


@pytest.mark.parametrize("kinds", [("skeleton",), ("secondary",), ("perpendicular",)])
def test_single_kinds(kinds: tuple[str, ...]) -> None:
    mask = shapes_mask()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScribbleCoverageWarning)
        labels = generate_scribbles(mask, 0.005, kinds=kinds, seed=2)
    classes = labels_to_classes(labels)
    assert np.array_equal(classes[classes >= 0], mask[classes >= 0])
    assert np.count_nonzero(labels) > 0


def test_skeleton_only_runs_out_with_warning() -> None:
    mask = shapes_mask()
    with pytest.warns(ScribbleCoverageWarning):
        labels = generate_scribbles(mask, 0.5, kinds=("skeleton",), seed=0)
    assert scribble_coverage(labels) < 0.5


def test_high_coverage_reachable_and_limits() -> None:
    mask = shapes_mask()
    labels = generate_scribbles(mask, 0.9, seed=0)
    check(mask, labels, 0.9, tol=0.01)
    full = generate_scribbles(mask, 1.0, seed=0)
    assert np.array_equal(labels_to_classes(full), mask)
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError):
            generate_scribbles(mask, bad)


def test_determinism() -> None:
    mask = instances_to_semantic(cells_mask())
    a = generate_scribbles(mask, 0.01, seed=7)
    b = generate_scribbles(mask, 0.01, seed=7)
    c = generate_scribbles(mask, 0.01, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_generator_reuses_geometry_same_result() -> None:
    mask = instances_to_semantic(cells_mask())
    gen = ScribbleGenerator(mask, line_length=10, line_width=2)
    for coverage, seed in [(0.01, 0), (0.05, 3), (0.01, 0)]:
        expected = generate_scribbles(mask, coverage, line_length=10, line_width=2, seed=seed)
        assert np.array_equal(gen(coverage, seed), expected)


def test_tiny_class_gets_pixels() -> None:
    mask = np.zeros((100, 100), np.uint8)
    mask[50, 50] = 1
    mask[10:12, 10:12] = 2
    labels = generate_scribbles(mask, 0.001, seed=0, min_pixels_per_class=4)
    classes = labels_to_classes(labels)
    assert (classes == 1).sum() == 1
    assert (classes == 2).sum() == 4
    assert (classes == 0).sum() >= 4


def test_single_class_image() -> None:
    mask = np.full((40, 50), 3, np.uint8)
    labels = generate_scribbles(mask, 0.05, seed=0)
    check(mask, labels, 0.05)
    assert set(np.unique(labels)) == {0, 4}


def test_label_mapping_roundtrip() -> None:
    mask = shapes_mask()
    labels = classes_to_labels(mask)
    assert labels.min() == 1
    assert np.array_equal(labels_to_classes(labels), mask)
    assert labels_to_classes(np.array([0, 1, 3]), unlabelled=-5).tolist() == [-5, 0, 2]
    big = classes_to_labels(np.array([255]))
    assert big.dtype == np.uint16 and big[0] == 256


def test_volume_planes() -> None:
    vol = np.stack([shapes_mask()] * 6)
    labels = generate_scribbles(vol, 0.01, planes=[1, 4], seed=0)
    assert labels.shape == vol.shape
    per_plane = np.count_nonzero(labels, axis=(1, 2))
    assert per_plane[[0, 2, 3, 5]].sum() == 0
    assert per_plane[1] > 0 and per_plane[4] > 0
    check(vol[1], labels[1], 0.01)
    assert abs(scribble_coverage(labels, planes=[1, 4]) - 0.01) < 0.002
    evenly = generate_scribbles(vol, 0.01, planes=3, seed=0)
    assert np.flatnonzero(np.count_nonzero(evenly, axis=(1, 2))).tolist() == [0, 2, 5]
    with pytest.raises(ValueError):
        generate_scribbles(shapes_mask(), 0.01, planes=[0])


def test_volume_class_missing_from_planes_warns() -> None:
    vol = np.zeros((3, 30, 30), np.uint8)
    vol[2, 10:20, 10:20] = 1
    with pytest.warns(ScribbleCoverageWarning, match="do not occur"):
        generate_scribbles(vol, 0.05, planes=[0])


def test_rejects_bad_masks() -> None:
    with pytest.raises(TypeError):
        generate_scribbles(np.zeros((10, 10), float), 0.1)
    with pytest.raises(ValueError):
        generate_scribbles(-np.ones((10, 10), int), 0.1)
    with pytest.raises(ValueError):
        generate_scribbles(np.zeros((10, 10), int), 0.1, kinds=("zigzag",))


@pytest.mark.skipif(not DSB.is_dir(), reason=f"real data not available at {DSB}")
@pytest.mark.parametrize("index", ["001", "002"])  # fluorescence, H&E
@pytest.mark.parametrize("coverage", [0.001, 0.01, 0.025])
def test_real_dsb_mask(index: str, coverage: float) -> None:
    import tifffile

    sem = instances_to_semantic(tifffile.imread(DSB / "masks" / f"{index}.tif"))
    labels = generate_scribbles(sem, coverage, seed=0)
    check(sem, labels, coverage)
    assert np.array_equal(labels, generate_scribbles(sem, coverage, seed=0))
