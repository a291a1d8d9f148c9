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

Modules: :mod:`.labels` (label convention, coverage), :mod:`.geometry` (skeletons and
nearest-border map of a class region), :mod:`.strokes` (drawing lines in one region),
:mod:`.generator` (pixel budgets over planes and classes; the public entry points).
"""

from .generator import ScribbleCoverageWarning, ScribbleGenerator, generate_scribbles
from .labels import classes_to_labels, instances_to_semantic, labels_to_classes, scribble_coverage
from .strokes import KINDS

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
