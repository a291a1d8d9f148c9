"""The feature-extractor contract.

A feature extractor turns one 2-D plane into per-pixel (or per-patch) features.
Everything else -- normalisation, channels, the multi-scale pyramid, padding,
tiling, Z/T stacks, the classifier -- is done by the core.  A complete
third-party extractor is a subclass that sets a few class attributes and
implements :meth:`FeatureExtractor.extract`::

    class Sobel(FeatureExtractor):
        name = "sobel"
        padding = 1

        def extract(self, plane):
            from scipy import ndimage
            return np.stack([ndimage.sobel(plane[0], 0), ndimage.sobel(plane[0], 1)])

Options are declared once, as a schema (:mod:`convpaint.options`); the base
constructor validates the keywords against it and stores them as attributes, and
:meth:`FeatureExtractor.get_options` returns the stored ones::

    class Smooth(FeatureExtractor):
        name = "smooth"
        options = (Option("sigma", "float", 2.0, "Gaussian sigma in pixels", minimum=0.1),)

        def extract(self, plane):
            return ndimage.gaussian_filter(plane, (0, self.sigma, self.sigma))
"""

from __future__ import annotations

import numbers
import re
from typing import Any, ClassVar

import numpy as np

from .options import Option, schema_problems, stored_options, validate

#: what an extractor's registry name may be ("+" joins the parts of a combination)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: package names shown in messages (never a file's text as a suggested command)
SAFE_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class ExtractorError(RuntimeError):
    """An extractor is misdeclared, failed, or returned unusable features.

    The message names the extractor and, when known, the package that provides it.
    """


class FeatureExtractor:
    """Base class of every extractor.

    Class attributes
    ----------------
    name : str
        Registry name, e.g. ``"ilastik"``.
    description : str
        One line shown by ``convpaint extractors``.
    n_input_channels : int
        Channels taken per call: 1 (the core runs it once per image channel and
        concatenates) or 3 (RGB; gray images are replicated to three channels).
    rgb : bool
        The extractor was trained on RGB natural images: the core applies
        ImageNet statistics when the user asks for no normalisation.
    padding : int
        Receptive-field halo in input pixels: output pixels farther than
        ``padding`` from the border of the input plane do not depend on the border.
    patch_size : int
        1 for CNNs and filters; 14 or 16 for ViTs. The core hands ``extract``
        planes whose height and width are multiples of ``patch_size``.
    default_scalings : tuple[int, ...]
        Downscaling factors of the image pyramid used when the user gives none.
    deterministic : bool
        Same input -> bit-identical output (lets tests check tiled == untiled).
    alignment : int
        Tile origins handed to ``extract`` are multiples of this many input
        pixels (e.g. 2**n for a CNN with n pooling layers), so that tiled and
        untiled features agree. ``patch_size`` is always honoured as well.
    tile_size : int or None
        Preferred tile edge in pixels (ViTs want large tiles); None: core default.
    supports_volume : bool
        The extractor implements :meth:`extract_volume` (true 3-D features).
    options : tuple[Option, ...]
        The keyword options (:class:`convpaint.options.Option`): name, type,
        default, allowed values, help. The CLI, the napari form and model files
        derive from it; ``()``: the extractor takes no options (or declares none,
        then its constructor is the only check).
    n_features : int or None
        Features per call of :meth:`extract` (per input channel group); None: known
        only after the first extract. Set it (class or instance) when it is known:
        the core sizes tiles and checks memory before featurising.
    planewise : bool
        The 3-D mode featurises plane by plane (:mod:`convpaint.projections`): the
        core then neither slabs Z nor budgets 3-D filters.
    supports_device : bool
        The constructor takes a ``device=`` option ("auto", "cpu", "cuda[:N]",
        "mps"): a run setting, never stored in model files.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    n_input_channels: ClassVar[int] = 1
    rgb: ClassVar[bool] = False
    padding: int = 0
    patch_size: int = 1
    default_scalings: tuple[int, ...] = (1,)
    deterministic: bool = True
    alignment: int = 1
    tile_size: int | None = None
    supports_volume: ClassVar[bool] = False
    options: ClassVar[tuple[Option, ...]] = ()
    n_features: int | None = None
    planewise: bool = False
    supports_device: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        """Validate ``options`` against the declared schema and store each option (the
        defaults of those not given) as an attribute of the same name; an attribute a
        subclass constructor set before calling this is kept."""
        schema = type(self).options
        if not schema:
            if options:
                names = ", ".join(sorted(options))
                raise TypeError(f"extractor {self.name!r} takes no options, got: {names}")
            return
        given = validate(schema, options, owner=f"extractor {self.name!r}")
        for opt in schema:
            if opt.name in given:
                setattr(self, opt.name, given[opt.name])
            elif opt.name not in vars(self):
                default = opt.default
                setattr(self, opt.name, list(default) if opt.is_list and default else default)

    def extract(self, plane: np.ndarray) -> np.ndarray:
        """Featurise one plane.

        Parameters
        ----------
        plane : ndarray of shape (n_input_channels, H, W), float32
            Normalised intensities; H and W are multiples of ``patch_size``.

        Returns
        -------
        ndarray of shape (n_features, H // patch_size, W // patch_size), float32
        """
        raise NotImplementedError

    def extract_interior(self, plane: np.ndarray, margin: tuple[int, int]) -> np.ndarray:
        """``extract(plane)`` cropped by ``margin`` = (my, mx) output pixels on both sides
        of Y and X. Override it when the crop can be computed for less than the whole
        plane (the numbers must equal the crop of :meth:`extract`, e.g. a filter bank
        that skips its own border padding): the core then calls it for plane features,
        with the tile halo as ``margin``, instead of :meth:`extract`."""
        f = self.extract(plane)
        (my, mx), (h, w) = margin, f.shape[-2:]
        return f[:, my : h - my, mx : w - mx]

    def extract_volume(self, volume: np.ndarray) -> np.ndarray:
        """Featurise a (n_input_channels, Z, H, W) volume -> (n_features, Z, H, W)."""
        raise NotImplementedError(f"extractor {self.name!r} has no 3-D mode")

    def extract_volume_interior(
        self, volume: np.ndarray, margin: tuple[int, int, int]
    ) -> np.ndarray:
        """``extract_volume(volume)`` cropped by ``margin`` = (mz, my, mx) voxels on both
        sides of Z, Y and X. What the core calls for 3-D features; override it when the
        crop can be computed for less than the whole volume (the numbers must equal the
        crop of :meth:`extract_volume`)."""
        f = self.extract_volume(volume)
        return f[
            (slice(None), *(slice(m, n - m) for m, n in zip(margin, f.shape[1:], strict=True)))
        ]

    def get_options(self) -> dict[str, Any]:
        """JSON-serialisable options that rebuild this extractor (stored in model files):
        by default the declared options with ``stored=True``, read from the attributes
        of the same names."""
        return stored_options(type(self).options, self)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.get_options().items())
        return f"{type(self).__name__}({opts})"


def declared_options(factory: object) -> tuple[Option, ...] | None:
    """The options an extractor class declares; ``()`` when it takes none, ``None`` when
    it declares none but its own constructor takes keywords (or ``factory`` is not an
    extractor class): then its constructor is the only check."""
    if not (isinstance(factory, type) and issubclass(factory, FeatureExtractor)):
        return None
    if factory.options:
        return tuple(factory.options)
    return () if factory.__init__ is FeatureExtractor.__init__ else None


def describe(name: object, package: str = "") -> str:
    """``extractor 'name' (package dist)`` for messages; the package only if it looks like one."""
    text = f"extractor {str(name)!r}"
    if package and SAFE_PACKAGE.fullmatch(package):
        text += f" (package {package})"
    return text


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def declaration_problems(ex: FeatureExtractor) -> list[str]:
    """What is wrong with the attributes ``ex`` declares (empty when nothing)."""
    problems = []
    if not isinstance(ex.name, str) or not NAME.fullmatch(ex.name):
        problems.append(f"name must be letters, digits, '.', '_' or '-', got {ex.name!r}")
    for attr, low in (("n_input_channels", 1), ("padding", 0), ("patch_size", 1), ("alignment", 1)):
        value = getattr(ex, attr, None)
        if not _is_int(value) or value < low:  # type: ignore[operator]
            problems.append(f"{attr} must be an integer >= {low}, got {value!r}")
    tile = getattr(ex, "tile_size", None)
    if tile is not None and (not _is_int(tile) or tile < 1):
        problems.append(f"tile_size must be None or an integer >= 1, got {tile!r}")
    scalings = getattr(ex, "default_scalings", None)
    if (
        not isinstance(scalings, (tuple, list))
        or not scalings
        or not all(_is_int(s) and s >= 1 for s in scalings)
    ):
        problems.append(f"default_scalings must be positive integers, got {scalings!r}")
    for attr in ("rgb", "deterministic", "supports_volume", "planewise", "supports_device"):
        if not isinstance(getattr(ex, attr, None), (bool, np.bool_)):
            problems.append(f"{attr} must be True or False, got {getattr(ex, attr, None)!r}")
    n = getattr(ex, "n_features", None)
    if n is not None and (not _is_int(n) or n < 1):
        problems.append(f"n_features must be None or an integer >= 1, got {n!r}")
    schema = getattr(type(ex), "options", ())
    problems.extend(schema_problems(schema))
    names = {getattr(o, "name", None) for o in schema} if isinstance(schema, tuple) else set()
    if names and getattr(ex, "supports_device", False) and "device" not in names:
        problems.append("supports_device is True but no 'device' option is declared")
    return problems


def check_declaration(ex: FeatureExtractor, package: str = "") -> None:
    """Raise :class:`ExtractorError` naming ``ex`` (and ``package``) if its attributes are unusable."""
    problems = declaration_problems(ex)
    if problems:
        raise ExtractorError(f"{describe(ex.name, package)} is misdeclared: {'; '.join(problems)}")
