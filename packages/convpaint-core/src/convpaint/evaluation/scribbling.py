"""The scribbles of an evaluation: their settings (stored in ``config.json``), a stable
seed per (image, coverage) and one generator per image shared by its coverage levels."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..scribbles import KINDS, ScribbleGenerator
from .results import short_error


@dataclass(frozen=True)
class ScribbleSettings:
    """Parameters of :func:`convpaint.scribbles.generate_scribbles` used for every image."""

    line_length: int = 20
    line_width: int = 1
    kinds: tuple[str, ...] = KINDS
    min_pixels_per_class: int = 4


@dataclass
class EvalConfig:
    """Everything that determines the scribbles (must not change within an output folder)."""

    dataset: str
    masks: str
    seed: int
    scribbles: ScribbleSettings = field(default_factory=ScribbleSettings)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["scribbles"]["kinds"] = list(self.scribbles.kinds)
        return d


def scribble_seed(seed: int, image: str, coverage: float) -> int:
    """Per (image, coverage) seed, stable across runs and Python versions."""
    ss = np.random.SeedSequence([seed, zlib.crc32(image.encode()), round(coverage * 1e6)])
    return int(ss.generate_state(1)[0])


def make_scribbles(
    generator: list[ScribbleGenerator],
    mask: np.ndarray,
    cov: float,
    seed: int,
    name: str,
    settings: ScribbleSettings,
) -> tuple[np.ndarray | None, str | None]:
    """Scribbles at ``cov`` percent, or the error as a one-line message.

    ``generator`` is the image's (empty) cache: the generator is built on first use."""
    try:
        if not generator:
            generator.append(
                ScribbleGenerator(
                    mask,
                    line_length=settings.line_length,
                    line_width=settings.line_width,
                    kinds=settings.kinds,
                    min_pixels_per_class=settings.min_pixels_per_class,
                )
            )
        return generator[0](cov / 100, seed=scribble_seed(seed, name, cov)), None
    except Exception as exc:  # recorded as a row, not fatal
        return None, short_error(exc)
