"""Scribbles for a whole mask: input checks, plane selection, the per-plane pixel budget
shared between classes, and the public entry points."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .geometry import ClassGeometry
from .labels import label_dtype
from .strokes import KINDS, ClassScribbler


class ScribbleCoverageWarning(UserWarning):
    """The requested coverage could not be reached with the chosen line kinds."""


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
        self.dtype = label_dtype(int(self.volume.max()) + 1)
        self._geometry: dict[int, list[ClassGeometry]] = {}
        self._labels: dict[int, list[int]] = {}

    def _classes(self, z: int) -> list[ClassGeometry]:
        if z not in self._geometry:
            plane = self.volume[z]
            classes, areas = np.unique(plane, return_counts=True)
            order = np.argsort(areas, kind="stable")  # smallest first
            self._geometry[z] = [ClassGeometry(plane, int(classes[i])) for i in order]
            self._labels[z] = [int(classes[i]) + 1 for i in order]
        return self._geometry[z]

    def _plane(self, z: int, n_target: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        out = np.zeros(self.volume.shape[1:], dtype=self.dtype)
        geoms = self._classes(z)
        remaining = n_target
        for i, (geom, label) in enumerate(zip(geoms, self._labels[z], strict=True)):
            share = remaining // (len(geoms) - i)  # leftovers go to the larger classes
            budget = min(max(share, min(self.min_pixels_per_class, geom.area)), geom.area)
            scribbler = ClassScribbler(
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
