"""Sample data: scikit-image's coins with the scribbles shipped with Convpaint."""

from __future__ import annotations

from typing import Any

from convpaint.demo import demo_scribbles

from .layers import ANNOTATIONS


def coins_with_scribbles() -> list[tuple[Any, dict[str, Any], str]]:
    """The coins image and its hand-drawn scribbles (1 = background, 2 = coins)."""
    from skimage import data

    return [
        (data.coins(), {"name": "coins"}, "image"),
        (demo_scribbles(), {"name": ANNOTATIONS, "opacity": 0.9}, "labels"),
    ]
