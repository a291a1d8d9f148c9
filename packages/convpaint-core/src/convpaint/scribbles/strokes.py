"""Brush strokes inside one class region: seeds, ridge-following and perpendicular lines,
widening with a square brush and clipping to the region."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
from skimage.draw import line as draw_line

from .geometry import ClassGeometry

KINDS: tuple[str, ...] = ("skeleton", "secondary", "perpendicular")

_NEIGHBOURS = np.array(
    [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], dtype=np.intp
)


class ClassScribbler:
    """Draws lines inside one class region (window views of the geometry and the output)."""

    def __init__(
        self,
        geom: ClassGeometry,
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
            base = self.geom.get(sources[stage])
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
