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
    "ScribbleGenerator",
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


class _ClassGeometry:
    """Skeletons and nearest-border map of one class region, cropped to its bounding box.

    Independent of coverage and seed, so it is computed once per mask (lazily)."""

    def __init__(self, plane: np.ndarray, k: int) -> None:
        full = plane == k
        rows = np.flatnonzero(full.any(axis=1))
        cols = np.flatnonzero(full.any(axis=0))
        self.window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        self.region = full[self.window]
        self.area = int(np.count_nonzero(self.region))
        self._cache: dict[str, np.ndarray] = {}

    def _get(self, key: str) -> np.ndarray:
        if key not in self._cache:
            if key == "skel":
                value = _skeleton(self.region)
            elif key == "secondary":
                dilated = ndimage.binary_dilation(self._get("skel"), np.ones((3, 3), bool))
                value = _skeleton(self.region & ~dilated)
            elif key == "nearest":
                # outside the bounding box everything is another class: a 1-px frame is enough
                _, idx = ndimage.distance_transform_edt(np.pad(self.region, 1), return_indices=True)
                value = (idx - 1).astype(np.int32)
            elif key == "skel_pts":
                value = np.argwhere(self._get("skel"))
            elif key == "secondary_pts":
                value = np.argwhere(self._get("secondary"))
            elif key == "rest_pts":
                value = np.argwhere(self.region & ~self._get("skel"))
            else:
                raise KeyError(key)
            self._cache[key] = value
        return self._cache[key]

    @property
    def skel(self) -> np.ndarray:
        return self._get("skel")

    @property
    def secondary(self) -> np.ndarray:
        return self._get("secondary")

    def nearest_border(self, point: np.ndarray) -> tuple[int, int]:
        """Nearest pixel outside the region (window coordinates, may lie outside the window)."""
        idx = self._get("nearest")
        return int(idx[0, point[0] + 1, point[1] + 1]), int(idx[1, point[0] + 1, point[1] + 1])

    def seed_sources(self, kind: str) -> list[str]:
        if kind == "skeleton":
            return ["skel_pts"]
        if kind == "secondary":
            return ["secondary_pts"]
        return ["skel_pts", "rest_pts"]  # perpendicular: skeleton seeds first, then the rest


class _ClassScribbler:
    """Draws lines inside one class region (window views of the geometry and the output)."""

    def __init__(
        self,
        geom: _ClassGeometry,
        out: np.ndarray,
        label: int,
        rng: np.random.Generator,
        line_length: int,
        line_width: int,
        kinds: Sequence[str],
    ) -> None:
        self.geom = geom
        self.region = geom.region
        self.out = out[geom.window]  # a view: painting writes through
        self.label = label
        self.rng = rng
        self.line_length = line_length
        self.kinds = list(kinds)
        lo = -(line_width // 2)
        r = np.arange(lo, lo + line_width)
        self.brush = np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)
        self._seeds: dict[str, tuple[int, int, np.ndarray]] = {}  # stage, position, shuffled

    def _next_seed(self, kind: str) -> np.ndarray | None:
        sources = self.geom.seed_sources(kind)
        stage, pos, pts = self._seeds.get(kind, (-1, 0, np.empty((0, 2), np.intp)))
        while pos >= len(pts):
            stage += 1
            if stage >= len(sources):
                self._seeds[kind] = (stage, pos, pts)
                return None
            base = self.geom._get(sources[stage])
            pts, pos = base[self.rng.permutation(len(base))], 0
        self._seeds[kind] = (stage, pos + 1, pts)
        return pts[pos]

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
        ty, tx = self.geom.nearest_border(seed)
        rr, cc = draw_line(int(seed[0]), int(seed[1]), ty, tx)
        return np.stack([rr, cc], 1)[: self.line_length]

    def _next_line(self, kind: str) -> np.ndarray | None:
        while (seed := self._next_seed(kind)) is not None:
            if kind == "perpendicular":
                return self._perpendicular(seed)
            if self.out[seed[0], seed[1]] == 0:  # ridge seeds: start on fresh ground
                ridge = self.geom.skel if kind == "skeleton" else self.geom.secondary
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


class ScribbleGenerator:
    """Scribbles for one mask at any coverage and seed, reusing the mask's geometry.

    ``ScribbleGenerator(mask, **settings)(coverage, seed)`` equals
    ``generate_scribbles(mask, coverage, seed=seed, **settings)``; skeletons and
    distance maps are computed once, so several coverages or seeds are cheaper.
    """

    def __init__(
        self,
        mask: np.ndarray,
        *,
        line_length: int = 20,
        line_width: int = 1,
        kinds: Sequence[str] = KINDS,
        planes: int | Sequence[int] | None = None,
        min_pixels_per_class: int = 4,
    ) -> None:
        mask = np.asarray(mask)
        if mask.ndim not in (2, 3):
            raise ValueError(f"mask must be 2-D or 3-D, got shape {mask.shape}")
        if not (np.issubdtype(mask.dtype, np.integer) or mask.dtype == bool):
            raise TypeError(f"mask must hold integer class values, got dtype {mask.dtype}")
        if mask.size == 0:
            raise ValueError(f"mask is empty: shape {mask.shape}")
        if mask.min() < 0:
            raise ValueError("mask class values must be >= 0")
        if line_length < 1 or line_width < 1:
            raise ValueError("line_length and line_width must be >= 1")
        kinds = tuple(kinds)
        if not kinds or set(kinds) - set(KINDS):
            raise ValueError(f"kinds must be a non-empty subset of {KINDS}, got {kinds}")
        if mask.ndim == 2 and planes is not None:
            raise ValueError("planes= is only for 3-D masks")
        self.ndim = mask.ndim
        self.volume = (mask if mask.ndim == 3 else mask[None]).astype(np.int64, copy=False)
        self.planes = _select_planes(self.volume.shape[0], planes)
        self.line_length = int(line_length)
        self.line_width = int(line_width)
        self.kinds = kinds
        self.min_pixels_per_class = int(min_pixels_per_class)
        self.dtype = _label_dtype(int(self.volume.max()) + 1)
        self._geometry: dict[int, list[_ClassGeometry]] = {}
        self._labels: dict[int, list[int]] = {}

    def _classes(self, z: int) -> list[_ClassGeometry]:
        if z not in self._geometry:
            plane = self.volume[z]
            classes, areas = np.unique(plane, return_counts=True)
            order = np.argsort(areas, kind="stable")  # smallest first
            self._geometry[z] = [_ClassGeometry(plane, int(classes[i])) for i in order]
            self._labels[z] = [int(classes[i]) + 1 for i in order]
        return self._geometry[z]

    def _plane(self, z: int, n_target: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        out = np.zeros(self.volume.shape[1:], dtype=self.dtype)
        geoms = self._classes(z)
        remaining = n_target
        for i, (geom, label) in enumerate(zip(geoms, self._labels[z], strict=True)):
            share = remaining // (len(geoms) - i)  # leftovers go to the larger classes
            budget = min(max(share, min(self.min_pixels_per_class, geom.area)), geom.area)
            scribbler = _ClassScribbler(
                geom, out, label, rng, self.line_length, self.line_width, self.kinds
            )
            remaining = max(remaining - scribbler.run(budget), 0)
        return out, remaining

    def __call__(self, coverage: float = 0.01, seed: int = 0) -> np.ndarray:
        """Annotations at ``coverage`` (fraction per scribbled plane) for ``seed``."""
        return self._generate(coverage, seed, stacklevel=3)

    def _generate(self, coverage: float, seed: int, stacklevel: int) -> np.ndarray:
        if not 0 < coverage <= 1:
            raise ValueError(f"coverage must be a fraction in (0, 1], got {coverage}")
        out = np.zeros(self.volume.shape, dtype=self.dtype)
        short = 0
        for z in self.planes:
            rng = np.random.default_rng([seed, z])
            n_target = int(round(coverage * self.volume[z].size))
            out[z], s = self._plane(z, n_target, rng)
            short += s
        if short:
            warnings.warn(
                f"{short} scribble pixels short of the target: the kinds {self.kinds} ran out "
                "of lines in some classes (add 'perpendicular' to reach any coverage)",
                ScribbleCoverageWarning,
                stacklevel=stacklevel,
            )
        if self.ndim == 3:
            present = set(np.unique(self.volume).tolist())
            in_planes = set(np.unique(self.volume[self.planes]).tolist())
            if present - in_planes:
                warnings.warn(
                    f"classes {sorted(present - in_planes)} do not occur in planes "
                    f"{self.planes}: they get no scribbles",
                    ScribbleCoverageWarning,
                    stacklevel=stacklevel,
                )
            return out
        return out[0]


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
    generator = ScribbleGenerator(
        mask,
        line_length=line_length,
        line_width=line_width,
        kinds=kinds,
        planes=planes,
        min_pixels_per_class=min_pixels_per_class,
    )
    return generator._generate(coverage, seed, stacklevel=3)
