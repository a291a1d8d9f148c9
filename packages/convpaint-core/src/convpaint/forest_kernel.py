"""Compiled random-forest inference: scikit-learn's probabilities, bit for bit, faster.

scikit-learn walks one tree at a time over all pixels, each walk a chain of
dependent loads and hard-to-predict branches, and needs its features as
(pixels, features) rows (a transposed copy of the tiles' (features, pixels)).
The numba kernel here takes (features, pixels) as they come, copies
:data:`BLOCK` pixels at a time into a small feature-major buffer and walks
every tree for those pixels in lockstep, branch-free (leaves point to
themselves), so the independent walks overlap; a block leaves a tree as soon
as none of its pixels moved in a level (all sit on leaves), not at the tree's
depth.

Leaves carry a code into a small table of distinct class-fraction rows
(:attr:`PackedForest.value`) instead of a row per node: a pure leaf (the usual
case: forests grow until leaves are pure) is its class, so its tree adds 1.0
to one class and nothing (adding 0.0 to a sum of non-negative terms changes no
bit) to the others.

The result equals ``mean(tree.predict_proba(x))`` of scikit-learn exactly:
nodes are renumbered breadth first (right child = left child + 1), a
threshold ``t`` becomes the largest float32 ``<= t`` (for float32 ``x``,
``x <= t`` holds exactly when ``x <=`` that float32), leaf values are taken
as ``predict_proba`` returns them (scikit-learn < 1.4 divides them by their sum,
later versions store fractions and divide by nothing: with 11 classes those
differ in the last bit) and summed in float64 in tree order.
Non-finite features (possible only from a third-party extractor) are handed
to scikit-learn, which routes NaN by its own rules.

Without numba (or with ``CONVPAINT_NUMBA=0``) :func:`forest_proba` returns
``None`` and callers use scikit-learn.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from . import jit

# pixels walked in lockstep: with the early exit 8 took ~25 % less CPU than 4 or 16
BLOCK = 8
# labels only: the lead a pixel needs beyond the trees left, as a fraction of all trees.
# Its label then cannot change, and its sums divided by the tree count and rounded to
# float32 still rank that class first (a lead > 1e-5 against a float32 spacing <= 6e-8)
SETTLE_MARGIN = 1e-5
# labels only: pixels whose features are copied at once, so that those not yet settled
# walk each tree together (64: 20-30 % less forest time than 8, 16 or 128 alike)
SETTLE_GROUP = 64


@dataclass(frozen=True)
class PackedForest:
    """All trees of a forest in flat arrays (breadth-first node order per tree)."""

    feature_child: np.ndarray  # (nodes, 2) int32: split feature, left child (leaf: itself)
    threshold: np.ndarray  # (nodes,) float32: go right when x > threshold (leaf: +inf)
    leaf: np.ndarray  # (nodes,) int32: a leaf's row of ``value`` (inner nodes: 0)
    value: np.ndarray  # (rows, n_classes) float64: distinct class fractions, rows 0..K-1 one-hot
    roots: np.ndarray  # (trees,) int32
    depth: np.ndarray  # (trees,) int32


def pack_forest(clf: Any) -> PackedForest:
    """Flatten a fitted scikit-learn ``RandomForestClassifier``/``ExtraTreesClassifier``.

    Every tree is checked first (:func:`tree_order`), so the walk never takes more
    steps than a tree has levels nor reads outside its nodes or the features.
    """
    fc, thr, val, is_leaf, roots, depth = [], [], [], [], [], []
    offset = 0
    n_features, n_classes = int(clf.n_features_in_), int(clf.n_classes_)
    for est in clf.estimators_:
        tree = est.tree_
        left, right = tree.children_left, tree.children_right
        order, levels = tree_order(left, right)
        inner = left >= 0
        if np.any((tree.feature[inner] < 0) | (tree.feature[inner] >= n_features)):
            raise ValueError(f"tree splits on a feature outside 0..{n_features - 1}")
        new_id = np.empty(tree.node_count, np.int64)
        new_id[order] = np.arange(order.size) + offset
        leaf = left[order] < 0
        child = np.where(leaf, new_id[order], new_id[np.maximum(left[order], 0)])
        feature = np.where(leaf, 0, tree.feature[order])
        fc.append(np.stack([feature, child], axis=1).astype(np.int32))
        thr.append(np.where(leaf, np.inf, _float32_floor(tree.threshold[order])))
        proba = tree.value[order[leaf], 0, :n_classes].astype(np.float64)
        if _normalised_by_predict():
            norm = proba.sum(axis=1)[:, None]
            norm[norm == 0.0] = 1.0
            proba = proba / norm
        val.append(proba)
        is_leaf.append(leaf)
        roots.append(offset)
        depth.append(levels - 1)
        offset += tree.node_count
    if offset >= 2**31:
        raise ValueError(f"forest has {offset} nodes, more than int32 indexes")
    leaf_mask = np.concatenate(is_leaf)
    value, codes = _leaf_table(np.concatenate(val), n_classes)
    leaf = np.zeros(offset, np.int32)
    leaf[leaf_mask] = codes
    return PackedForest(
        np.concatenate(fc),
        np.concatenate(thr).astype(np.float32),
        leaf,
        value,
        np.asarray(roots, np.int32),
        np.asarray(depth, np.int32),
    )


@cache
def _normalised_by_predict() -> bool:
    """Whether ``DecisionTreeClassifier.predict_proba`` divides leaf values by their sum
    (scikit-learn < 1.4, whose trees hold weighted counts; later ones hold the fractions
    and return them as they are)."""
    import re

    import sklearn

    found = re.match(r"(\d+)\.(\d+)", sklearn.__version__)
    return found is not None and (int(found[1]), int(found[2])) < (1, 4)


def _leaf_table(fractions: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows, one-hot rows first; each leaf's row) of (leaves, K) class fractions."""
    eye = np.eye(n_classes)
    rows, inverse = np.unique(fractions, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    one_hot = np.all((rows == 0.0) | (rows == 1.0), axis=1) & (rows.sum(axis=1) == 1.0)
    codes_of_row = np.empty(rows.shape[0], np.int64)
    codes_of_row[one_hot] = np.argmax(rows[one_hot], axis=1)
    codes_of_row[~one_hot] = n_classes + np.arange(int((~one_hot).sum()))
    value = np.ascontiguousarray(np.concatenate([eye, rows[~one_hot]]))
    return value, codes_of_row[inverse].astype(np.int32)


def tree_order(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, int]:
    """Node ids in breadth-first order (children of a node adjacent) and the number of levels.

    Raises ``ValueError`` unless the child arrays describe a tree: leaves have both
    children -1, inner nodes two children with larger ids (no cycles), and every node
    but the root has exactly one parent (no shared subtrees, nothing unreachable).
    The work is linear in the node count whatever the arrays hold.
    """
    left, right = np.asarray(left, np.int64), np.asarray(right, np.int64)
    n = left.shape[0]
    if n == 0 or left.shape != (n,) or right.shape != (n,):
        raise ValueError("tree has no nodes" if n == 0 else "tree child arrays differ in shape")
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        raise ValueError("tree has nodes with a single child (leaves must have both children -1)")
    idx = np.flatnonzero(~leaf)
    kids = np.concatenate([left[idx], right[idx]])
    parents = np.concatenate([idx, idx])
    if np.any((kids <= parents) | (kids >= n)):
        raise ValueError(
            f"tree child indices out of range (children must lie in parent+1..{n - 1})"
        )
    if np.any(np.bincount(kids, minlength=n)[1:] != 1):
        raise ValueError(
            "tree nodes are shared or unreachable: every node needs exactly one parent"
        )
    order, frontier, levels, seen = [], np.zeros(1, np.int64), 0, 0
    while frontier.size:  # each node once (checked above): at most n nodes, n levels
        order.append(frontier)
        seen += frontier.size
        levels += 1
        if seen > n:  # unreachable after the checks above; bounds the loop regardless
            raise ValueError("tree nodes are reached more than once")
        inner = frontier[left[frontier] >= 0]
        frontier = np.stack([left[inner], right[inner]], axis=1).ravel()
    if seen != n:
        raise ValueError("tree nodes are unreachable from the root")
    return np.concatenate(order), levels


def _float32_floor(t: np.ndarray) -> np.ndarray:
    """The largest float32 <= t, elementwise (``x <= t`` iff ``x <= result`` for float32 x)."""
    t32 = t.astype(np.float32)
    above = t32.astype(np.float64) > t
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32


_packed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_packed_lock = threading.Lock()


def _packed_of(clf: Any) -> PackedForest:
    """Packed arrays of ``clf``, computed once per fit (keyed by its estimators list)."""
    with _packed_lock:
        entry = _packed.get(clf)
        if entry is None or entry[0] is not clf.estimators_:
            entry = (clf.estimators_, pack_forest(clf))
            _packed[clf] = entry
        return entry[1]


def _walk(x, feature_child, threshold, leaf, value, roots, depth, out):  # pragma: no cover
    """Fill ``out`` (n_classes, n) with the summed leaf fractions of every tree; False
    (and stop) at the first non-finite feature."""
    n_features, n = x.shape
    n_classes = value.shape[1]
    buf = np.zeros(n_features * BLOCK, np.float32)  # feature f of pixel j at f * BLOCK + j
    node = np.empty(BLOCK, np.int32)
    acc = np.empty((BLOCK, n_classes), np.float64)
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        for f in range(n_features):
            for j in range(m):
                v = x[f, start + j]
                if not np.isfinite(v):
                    return False
                buf[f * BLOCK + j] = v
            for j in range(m, BLOCK):  # the last block's spare pixels walk zeros, unread
                buf[f * BLOCK + j] = 0.0
        acc[:] = 0.0
        for t in range(roots.size):
            for j in range(BLOCK):
                node[j] = roots[t]
            for _ in range(depth[t]):
                moved = 0
                for j in range(BLOCK):
                    nd = node[j]
                    nxt = feature_child[nd, 1] + (
                        buf[feature_child[nd, 0] * BLOCK + j] > threshold[nd]
                    )
                    moved |= nxt != nd  # an inner node always moves, a leaf never
                    node[j] = nxt
                if moved == 0:  # every pixel on a leaf
                    break
            for j in range(BLOCK):
                code = leaf[node[j]]
                if code < n_classes:  # a pure leaf: 1.0 for its class, +0.0 elsewhere
                    acc[j, code] += 1.0
                else:
                    for k in range(n_classes):
                        acc[j, k] += value[code, k]
        for j in range(m):
            for k in range(n_classes):
                out[k, start + j] = acc[j, k]
    return True


def _walk_settle(
    x, feature_child, threshold, leaf, value, roots, depth, sure_at, out
):  # pragma: no cover
    """:func:`_walk` for labels: a pixel leaves the forest after the tree where its leading
    class is ahead of every other by more than the trees left (plus ``SETTLE_MARGIN`` of
    all trees), keeping its partial sums in ``out``, whose argmax is the full sums'.
    With ``sure_at`` > 0 it also stays until its leading class's share of the trees is
    known to end at least ``sure_at``, or below it (by the same margin either way).

    Features of :data:`SETTLE_GROUP` pixels are copied at once; tree by tree, the pixels
    not yet settled walk it :data:`BLOCK` at a time in lockstep.
    """
    n_features, n = x.shape
    n_classes = value.shape[1]
    n_trees = roots.size
    margin = SETTLE_MARGIN * n_trees
    first_check = (n_trees - 1) // 2  # before, a lead cannot exceed the trees left
    sure_sum = sure_at * n_trees
    group = SETTLE_GROUP
    buf = np.zeros(n_features * group, np.float32)  # feature f of pixel j at f * group + j
    walking = np.zeros(group + BLOCK, np.int64)  # the group's unsettled pixels, then padding
    node = np.empty(BLOCK, np.int32)
    acc = np.zeros((group, n_classes), np.float64)
    for start in range(0, n, group):
        m = min(group, n - start)
        for f in range(n_features):
            for j in range(m):
                v = x[f, start + j]
                if not np.isfinite(v):
                    return False
                buf[f * group + j] = v
        for j in range(m):
            walking[j] = j
            for k in range(n_classes):
                acc[j, k] = 0.0
        n_walking = m
        for t in range(n_trees):
            for i in range(n_walking, n_walking + BLOCK):  # a last short block repeats a pixel
                walking[i] = walking[n_walking - 1]
            for b in range(0, n_walking, BLOCK):
                for i in range(BLOCK):
                    node[i] = roots[t]
                for _ in range(depth[t]):
                    moved = 0
                    for i in range(BLOCK):
                        nd = node[i]
                        feature = buf[feature_child[nd, 0] * group + walking[b + i]]
                        nxt = feature_child[nd, 1] + (feature > threshold[nd])
                        moved |= nxt != nd
                        node[i] = nxt
                    if moved == 0:
                        break
                for i in range(min(BLOCK, n_walking - b)):
                    j = walking[b + i]
                    code = leaf[node[i]]
                    if code < n_classes:
                        acc[j, code] += 1.0
                    else:
                        for k in range(n_classes):
                            acc[j, k] += value[code, k]
            if t < first_check or t == n_trees - 1:
                continue
            lead = n_trees - 1 - t + margin  # a pixel ahead by more than this is settled
            kept = 0
            for i in range(n_walking):
                j = walking[i]
                best = -1.0
                second = -1.0
                for k in range(n_classes):
                    a = acc[j, k]
                    if a > best:
                        second = best
                        best = a
                    elif a > second:
                        second = a
                left = n_trees - 1 - t
                undecided = sure_at > 0.0 and (
                    sure_sum - margin <= best + left and best < sure_sum + margin
                )
                if best - second <= lead or undecided:
                    walking[kept] = j
                    kept += 1
            n_walking = kept
            if n_walking == 0:
                break
        for j in range(m):
            for k in range(n_classes):
                out[k, start + j] = acc[j, k]
    return True


@cache
def _kernel():
    """The compiled walk, or None (compiled on first use)."""
    return jit.compile(_walk)


@cache
def _settle_kernel():
    """The compiled labels-only walk, or None (compiled on first use)."""
    return jit.compile(_walk_settle)


def warm_up() -> bool:
    """Load (or compile) the walk for the argument types :func:`forest_proba` passes, on
    a one-leaf forest; False without numba."""
    walk = _kernel()
    if walk is None:
        return False
    x = np.zeros((1, BLOCK + 1), np.float32)
    feature_child = np.zeros((1, 2), np.int32)
    threshold = np.full(1, np.inf, np.float32)
    leaf = np.zeros(1, np.int32)
    value = np.eye(2)
    roots = np.zeros(1, np.int32)
    out = np.empty((2, x.shape[1]), np.float64)
    args = (x, feature_child, threshold, leaf, value, roots, roots.copy())
    return bool(walk(*args, out)) and bool(_settle_kernel()(*args, 0.6, out))


def forest_proba(
    clf: Any, x: np.ndarray, labels_only: bool = False, sure_at: float = 0.0
) -> np.ndarray | None:
    """(n_classes, n) float64 probabilities of (F, n) features, or None when the kernel
    cannot serve (no numba, non-finite features): then use scikit-learn.

    ``labels_only``: each pixel leaves the forest once its most probable class is
    settled (:func:`_walk_settle`): the result's argmax, also after rounding to float32,
    is the full forest's, exactly; pixels that never settle early get their exact
    probabilities, the others partial sums (divided by the tree count), not probabilities.
    ``sure_at`` (with ``labels_only``): ``result.max(axis=0) >= sure_at`` (also in float32)
    is then exactly the full probabilities' too, e.g. coarse to fine's sure test."""
    if x.ndim != 2 or x.shape[0] != clf.n_features_in_:  # the walk does not check bounds
        raise ValueError(
            f"features have shape {x.shape}; the forest needs ({clf.n_features_in_}, pixels)"
        )
    walk = _kernel()
    if walk is None:
        return None
    p = _packed_of(clf)
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty((p.value.shape[1], x.shape[1]), np.float64)
    args = (x, p.feature_child, p.threshold, p.leaf, p.value, p.roots, p.depth)
    if not (_settle_kernel()(*args, float(sure_at), out) if labels_only else walk(*args, out)):
        return None
    out /= p.roots.size
    return out


jit.register("forest walk", warm_up)
