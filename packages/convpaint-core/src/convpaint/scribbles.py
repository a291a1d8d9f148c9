"""Human-like scribbles generated from ground-truth masks.

Mimics a user annotating an image with short brush strokes, as in the
Convpaint paper's quantitative evaluation (fig. S8).  Lines of three kinds
are sampled from every class region of a *semantic* mask:

``"skeleton"``
    centre-ridge lines: pieces of the region's (primary) skeleton;
``"secondary"``
    boundary-parallel lines: pieces of the skeleton of the region minus its
    (slightly dilated) primary skeleton, i.e. ridges half way between the
    centre line and the border;
``"perpendicular"``
    lines from a skeleton pixel straight to the nearest border pixel of the
    region (perpendicular to the boundary).  Once every skeleton pixel has
    been used, further perpendicular lines start at random interior pixels,
    so that any coverage up to 100 % is reachable.

Lines are ``line_length`` pixels long (measured along the skeleton, or
straight for perpendicular lines), widened with a ``line_width`` x
``line_width`` square brush and clipped to their class region: a scribble
pixel is never outside its class.  Lines are added until the target number
of pixels is reached; the last line is truncated, so the coverage is exact
unless a class is too small or the chosen kinds run out of lines (then a
:class:`ScribbleCoverageWarning` is issued).

Label convention
----------------
Convpaint annotations use 0 for *unlabelled*, so ground-truth class ``k``
(background ``0`` included) becomes annotation label ``k + 1``;
:func:`classes_to_labels` and :func:`labels_to_classes` convert both ways.
The pixel budget is shared equally between the classes of a plane (smallest
class first; what a class cannot take is passed on to the larger ones) and
every class present gets at least ``min(min_pixels_per_class, class area)``
pixels.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.draw import line as draw_line
from skimage.morphology import skeletonize

__all__ = [
    "KINDS",
    "ScribbleCoverageWarning",
    "classes_to_labels",
    "generate_scribbles",
    "instances_to_semantic",
    "labels_to_classes",
    "scribble_coverage",
]

KINDS: tuple[str, ...] = ("skeleton", "secondary", "perpendicular")

_NEIGHBOURS = np.array(
    [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], dtype=np.intp
)


class ScribbleCoverageWarning(UserWarning):
    """The requested coverage could not be reached with the chosen line kinds."""


def instances_to_semantic(mask: np.ndarray) -> np.ndarray:
    """Instance label image -> foreground/background semantic mask (``mask > 0``, uint8)."""
    return (np.asarray(mask) > 0).astype(np.uint8)


def _label_dtype(max_label: int) -> np.dtype:
    for dt in (np.uint8, np.uint16, np.uint32):
        if max_label <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.uint64)


def classes_to_labels(classes: np.ndarray) -> np.ndarray:
    """Ground-truth class ``k`` -> annotation label ``k + 1`` (0 stays free for *unlabelled*)."""
    classes = np.asarray(classes)
    if classes.size and classes.min() < 0:
        raise ValueError("class values must be >= 0")
    top = int(classes.max()) + 1 if classes.size else 1
    return (classes.astype(np.int64) + 1).astype(_label_dtype(top))


def labels_to_classes(labels: np.ndarray, unlabelled: int = -1) -> np.ndarray:
    """Annotation label ``k + 1`` -> class ``k``; label 0 -> ``unlabelled`` (int64 result)."""
    labels = np.asarray(labels).astype(np.int64)
    return np.where(labels > 0, labels - 1, unlabelled)


def scribble_coverage(labels: np.ndarray, planes: Sequence[int] | None = None) -> float:
    """Fraction of annotated (non-zero) pixels, optionally over the given planes only."""
    labels = np.asarray(labels)
    if planes is not None:
        labels = labels[list(planes)]
    return float(np.count_nonzero(labels)) / labels.size if labels.size else 0.0


def _skeleton(region: np.ndarray) -> np.ndarray:
    # pad so that the image border counts as a region border
    return skeletonize(np.pad(region, 1))[1:-1, 1:-1]


class _ClassScribbler:
    """Draws lines inside one class region of a 2-D plane."""

    def __init__(
        self,
        region: np.ndarray,
        out: np.ndarray,
        label: int,
        rng: np.random.Generator,
        line_length: int,
        line_width: int,
        kinds: Sequence[str],
    ) -> None:
        self.region = region
        self.out = out
        self.label = label
        self.rng = rng
        self.line_length = line_length
        self.kinds = list(kinds)
        lo = -(line_width // 2)
        r = np.arange(lo, lo + line_width)
        self.brush = np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)
        self._skel: np.ndarray | None = None
        self._secondary: np.ndarray | None = None
        self._nearest: np.ndarray | None = None
        self._pools: dict[str, np.ndarray] = {}
        self._pos: dict[str, int] = {}

    # -- lazily computed geometry -------------------------------------------------
    @property
    def skel(self) -> np.ndarray:
        if self._skel is None:
            self._skel = _skeleton(self.region)
        return self._skel

    @property
    def secondary(self) -> np.ndarray:
        if self._secondary is None:
            rest = self.region & ~ndimage.binary_dilation(self.skel, np.ones((3, 3), bool))
            self._secondary = _skeleton(rest)
        return self._secondary

    def nearest_border(self, points: np.ndarray) -> np.ndarray:
        """For each interior point, the nearest pixel outside the region (may be off-image)."""
        if self._nearest is None:
            _, idx = ndimage.distance_transform_edt(np.pad(self.region, 1), return_indices=True)
            self._nearest = idx - 1  # back to unpadded coordinates
        return self._nearest[:, points[:, 0] + 1, points[:, 1] + 1].T

    def _shuffled(self, mask: np.ndarray) -> np.ndarray:
        pts = np.argwhere(mask)
        return pts[self.rng.permutation(len(pts))]

    def pool(self, kind: str) -> np.ndarray:
        if kind not in self._pools:
            if kind == "skeleton":
                pts = self._shuffled(self.skel)
            elif kind == "secondary":
                pts = self._shuffled(self.secondary)
            else:  # perpendicular: skeleton seeds first, then any interior pixel
                pts = np.concatenate(
                    [self._shuffled(self.skel), self._shuffled(self.region & ~self.skel)]
                )
            self._pools[kind] = pts
            self._pos[kind] = 0
        return self._pools[kind]

    # -- lines ---------------------------------------------------------------------
    def _trace(self, ridge: np.ndarray, seed: np.ndarray) -> np.ndarray:
        """Breadth-first walk along a 1-px ridge from ``seed`` (line_length // 2 each way)."""
        h, w = ridge.shape
        depth = max(self.line_length // 2, 0)
        start = (int(seed[0]), int(seed[1]))
        seen = {start}
        order = [start]
        queue = deque([(start, 0)])
        while queue:
            (y, x), d = queue.popleft()
            if d >= depth:
                continue
            for dy, dx in _NEIGHBOURS:
                ny, nx = y + dy, x + dx
                if 0 <= ny < h and 0 <= nx < w and ridge[ny, nx] and (ny, nx) not in seen:
                    seen.add((ny, nx))
                    order.append((ny, nx))
                    queue.append(((ny, nx), d + 1))
        return np.array(order, dtype=np.intp)

    def _perpendicular(self, seed: np.ndarray) -> np.ndarray:
        ty, tx = self.nearest_border(seed[None])[0]
        rr, cc = draw_line(int(seed[0]), int(seed[1]), int(ty), int(tx))
        pts = np.stack([rr, cc], 1)[: max(self.line_length, 1)]
        return pts

    def _next_line(self, kind: str) -> np.ndarray | None:
        pts = self.pool(kind)
        while self._pos[kind] < len(pts):
            seed = pts[self._pos[kind]]
            self._pos[kind] += 1
            if kind == "perpendicular":
                return self._perpendicular(seed)
            if self.out[seed[0], seed[1]] == 0:  # ridge seeds: start on fresh ground
                ridge = self.skel if kind == "skeleton" else self.secondary
                return self._trace(ridge, seed)
        return None

    def _paint(self, centre: np.ndarray, budget: int) -> int:
        """Widen, clip to the region, paint at most ``budget`` new pixels; return count."""
        pts = (centre[:, None, :] + self.brush[None]).reshape(-1, 2)
        h, w = self.region.shape
        ok = (pts[:, 0] >= 0) & (pts[:, 0] < h) & (pts[:, 1] >= 0) & (pts[:, 1] < w)
        pts = pts[ok]
        pts = pts[self.region[pts[:, 0], pts[:, 1]] & (self.out[pts[:, 0], pts[:, 1]] == 0)]
        if len(pts) == 0:
            return 0
        flat = pts[:, 0] * w + pts[:, 1]
        _, first = np.unique(flat, return_index=True)
        pts = pts[np.sort(first)][:budget]
        self.out[pts[:, 0], pts[:, 1]] = self.label
        return len(pts)

    def run(self, budget: int) -> int:
        """Add lines until ``budget`` pixels are painted or no line is left; return count."""
        painted = 0
        active = list(self.kinds)
        while painted < budget and active:
            kind = active[int(self.rng.integers(len(active)))]
            centre = self._next_line(kind)
            if centre is None:
                active.remove(kind)
                continue
            painted += self._paint(centre, budget - painted)
        return painted


def _scribble_plane(
    mask: np.ndarray,
    n_target: int,
    rng: np.random.Generator,
    line_length: int,
    line_width: int,
    kinds: Sequence[str],
    min_pixels_per_class: int,
) -> tuple[np.ndarray, int]:
    classes, areas = np.unique(mask, return_counts=True)
    out = np.zeros(mask.shape, dtype=_label_dtype(int(classes.max()) + 1))
    order = np.argsort(areas, kind="stable")  # smallest first: leftovers go to larger classes
    remaining = n_target
    for i, ci in enumerate(order):
        k, area = int(classes[ci]), int(areas[ci])
        share = remaining // (len(order) - i)
        budget = min(max(share, min(min_pixels_per_class, area)), area)
        scribbler = _ClassScribbler(mask == k, out, k + 1, rng, line_length, line_width, kinds)
        remaining = max(remaining - scribbler.run(budget), 0)
    return out, remaining


def _select_planes(n: int, planes: int | Sequence[int] | None) -> list[int]:
    if planes is None:
        return list(range(n))
    if isinstance(planes, (int, np.integer)):
        if not 1 <= planes <= n:
            raise ValueError(f"planes={planes} must be between 1 and {n}")
        return sorted({int(round(v)) for v in np.linspace(0, n - 1, int(planes))})
    sel = sorted({int(p) for p in planes})
    if not sel or sel[0] < -n or sel[-1] >= n:
        raise ValueError(f"planes {list(planes)} out of range for {n} planes")
    return sorted({p % n for p in sel})


def generate_scribbles(
    mask: np.ndarray,
    coverage: float = 0.01,
    *,
    line_length: int = 20,
    line_width: int = 1,
    kinds: Sequence[str] = KINDS,
    seed: int = 0,
    planes: int | Sequence[int] | None = None,
    min_pixels_per_class: int = 4,
) -> np.ndarray:
    """Generate human-like scribble annotations from a semantic ground-truth mask.

    Parameters
    ----------
    mask : ndarray of non-negative ints, shape (Y, X) or (Z, Y, X)
        Semantic mask; every value is a class, 0 (background) included.  Use
        :func:`instances_to_semantic` first for instance masks.
    coverage : float
        Target fraction of annotated pixels (0.01 = 1 %), per scribbled plane.
    line_length : int
        Length of one line in pixels (before widening).
    line_width : int
        Brush width in pixels (square brush); widened lines are clipped to their class.
    kinds : sequence of ``"skeleton"``, ``"secondary"``, ``"perpendicular"``
        Line kinds to draw, picked at random for every line.
    seed : int
        Random seed; same inputs and seed give the same scribbles.
    planes : None, int or sequence of int
        3-D only: the Z planes to annotate (None: all; an int n: n evenly spaced planes).
    min_pixels_per_class : int
        Every class present in a plane gets at least this many pixels (or all of its pixels).

    Returns
    -------
    ndarray, same shape as ``mask``
        Annotations: 0 = unlabelled, class ``k`` -> label ``k + 1``.
    """
    mask = np.asarray(mask)
    if mask.ndim not in (2, 3):
        raise ValueError(f"mask must be 2-D or 3-D, got shape {mask.shape}")
    if not (np.issubdtype(mask.dtype, np.integer) or mask.dtype == bool):
        raise TypeError(f"mask must hold integer class values, got dtype {mask.dtype}")
    if mask.size and mask.min() < 0:
        raise ValueError("mask class values must be >= 0")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be a fraction in (0, 1], got {coverage}")
    if line_length < 1 or line_width < 1:
        raise ValueError("line_length and line_width must be >= 1")
    kinds = tuple(kinds)
    unknown = set(kinds) - set(KINDS)
    if not kinds or unknown:
        raise ValueError(f"kinds must be a non-empty subset of {KINDS}, got {kinds}")
    if mask.ndim == 2 and planes is not None:
        raise ValueError("planes= is only for 3-D masks")

    mask = mask.astype(np.int64, copy=False)
    volume = mask if mask.ndim == 3 else mask[None]
    sel = _select_planes(volume.shape[0], planes)
    out = np.zeros(volume.shape, dtype=_label_dtype(int(mask.max()) + 1 if mask.size else 1))
    short = 0
    for z in sel:
        rng = np.random.default_rng([seed, z])
        n_target = int(round(coverage * volume[z].size))
        plane, s = _scribble_plane(
            volume[z], n_target, rng, line_length, line_width, kinds, min_pixels_per_class
        )
        out[z] = plane
        short += s
    if short:
        warnings.warn(
            f"{short} scribble pixels short of the target: the kinds {kinds} ran out of "
            "lines in some classes (add 'perpendicular' to reach any coverage)",
            ScribbleCoverageWarning,
            stacklevel=2,
        )
    if mask.ndim == 3:
        present = set(np.unique(volume).tolist())
        in_planes = set(np.unique(volume[sel]).tolist())
        if present - in_planes:
            warnings.warn(
                f"classes {sorted(present - in_planes)} do not occur in planes {sel}: "
                "they get no scribbles",
                ScribbleCoverageWarning,
                stacklevel=2,
            )
        return out
    return out[0]
