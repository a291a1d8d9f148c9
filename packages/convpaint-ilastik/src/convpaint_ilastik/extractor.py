"""The ``ilastik`` extractor: the classical ilastik filter bank at several scales."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from convpaint import FeatureExtractor
from convpaint.options import Option

from . import fast, opencv
from .filters import DOG_RATIO, FILTERS, filter_bank, max_radius, n_components

#: ilastik's scales (napari-ilastik / ilastik "maximal combination")
SIGMAS: tuple[float, ...] = (0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0)
BACKENDS: tuple[str, ...] = ("auto", "opencv", "fastfilters", "scipy")
#: allowed scales: below 0.1 a kernel is a single tap (and 1/sigma**2 overflows for tiny
#: values); above 64 the halo (about 3.5 sigma + 1.5 sigma for the structure tensor, 320 px
#: at 64) outgrows any useful tile
SIGMA_MIN, SIGMA_MAX = 0.1, 64.0


def resolve_backend() -> str:
    """What ``backend="auto"`` uses for planes here: opencv, else fastfilters, else scipy."""
    if opencv.available():
        return "opencv"
    return "fastfilters" if fast.available() else "scipy"


def _check_filters(filters: Iterable[str] | str | None) -> tuple[str, ...]:
    if filters is None:
        return FILTERS
    if isinstance(filters, str):
        filters = [filters]
    given = list(filters)
    bad = [f for f in given if f not in FILTERS]
    if bad or not given:
        what = f"unknown filter(s) {', '.join(map(repr, bad))}" if bad else "no filters given"
        raise ValueError(f"{what}; allowed: {', '.join(FILTERS)}")
    return tuple(f for f in FILTERS if f in given)


def _check_sigmas(sigmas: Iterable[float] | float | None) -> tuple[float, ...]:
    if sigmas is None:
        return SIGMAS
    given = (
        [sigmas] if isinstance(sigmas, numbers.Real) and not isinstance(sigmas, bool) else sigmas
    )
    values: list[float] = []
    if not isinstance(given, (str, bytes)) and isinstance(given, Iterable):
        for s in given:
            if not isinstance(s, numbers.Real) or isinstance(s, bool):
                values = []
                break
            values.append(float(s))
    if not values or not all(SIGMA_MIN <= s <= SIGMA_MAX for s in values):  # NaN fails too
        raise ValueError(
            f"sigmas must be a non-empty list of finite numbers > 0 with "
            f"{SIGMA_MIN:g} <= sigma <= {SIGMA_MAX:g} (ilastik's are "
            f"{', '.join(map(str, SIGMAS))}), got {_short(sigmas)}"
        )
    return tuple(sorted(set(values)))


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class IlastikFilters(FeatureExtractor):
    """Gaussian, LoG, gradient magnitude, DoG, structure-tensor and Hessian eigenvalues.

    Features are ordered filter by filter (in the order of
    :data:`convpaint_ilastik.filters.FILTERS`), then by increasing sigma, then
    by eigenvalue (descending); see :attr:`feature_names`. Eigenvalue filters
    give 2 channels per scale on planes and 3 on volumes. Borders are handled
    by mirroring the input (``numpy.pad(mode="reflect")``) by ``padding``
    pixels, so results do not depend on the backend's own border handling.

    Parameters
    ----------
    filters : names from ``FILTERS``; default all six.
    sigmas : scales with ``SIGMA_MIN <= sigma <= SIGMA_MAX`` (0.1 <= sigma <= 64);
        default ``SIGMAS`` (0.3 ... 10). Anything else (NaN, inf, 0, negative, empty,
        non-numeric) is a ``ValueError`` naming ``sigmas`` and the range.
    backend : how 2-D planes are filtered: ``"auto"`` (OpenCV when installed, else
        fastfilters2 when installed, else scipy), ``"opencv"``, ``"fastfilters"`` or
        ``"scipy"``. Volumes always use scipy. The backends agree to < 1e-5 (float32
        rounding); model files store the option as given, so an ``"auto"`` model
        loaded where another backend is installed gives features that differ by
        that much (``plane_backend`` says which one runs).
    """

    name = "ilastik"
    description = "ilastik filter bank: Gaussian, LoG, gradient, DoG, structure tensor, Hessian"
    n_input_channels = 1
    rgb = False
    patch_size = 1
    default_scalings = (1,)
    deterministic = True
    supports_volume = True
    options = (
        Option("filters", "str-list", FILTERS, "filters (default: all six)", choices=FILTERS),
        Option(
            "sigmas",
            "float-list",
            SIGMAS,
            "scales in pixels (ilastik's by default)",
            minimum=SIGMA_MIN,
            maximum=SIGMA_MAX,
        ),
        Option("backend", "str", "auto", "how 2-D planes are filtered", choices=BACKENDS),
    )

    def __init__(
        self,
        filters: Iterable[str] | str | None = None,
        sigmas: Iterable[float] | float | None = None,
        backend: str = "auto",
    ) -> None:
        self.filters = _check_filters(filters)
        self.sigmas = _check_sigmas(sigmas)
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
        if backend == "fastfilters" and not fast.available():
            raise ImportError(
                "backend='fastfilters' needs fastfilters2: pip install 'convpaint-ilastik[fast]'"
            )
        if backend == "opencv" and not opencv.available():
            raise ImportError(
                "backend='opencv' needs OpenCV: pip install 'convpaint-ilastik[fast]'"
            )
        self.backend = backend
        self.padding = max_radius(self.filters, self.sigmas)

    @property
    def plane_backend(self) -> str:
        """The backend that filters 2-D planes: ``"opencv"``, ``"fastfilters"`` or ``"scipy"``."""
        if self.backend != "auto":
            return self.backend
        return resolve_backend()

    @property
    def uses_fastfilters(self) -> bool:
        """Whether 2-D planes go through fastfilters2."""
        return self.plane_backend == "fastfilters"

    def feature_names_for(self, ndim: int = 2) -> list[str]:
        """Names of the features of one input channel, in output order."""
        names = []
        for f in self.filters:
            for s in self.sigmas:
                k = n_components(f, ndim)
                names += [f"{f}_s{s:g}"] if k == 1 else [f"{f}_s{s:g}_ev{i}" for i in range(k)]
        return names

    @property
    def feature_names(self) -> list[str]:
        """Names of the 2-D features of one input channel, in output order."""
        return self.feature_names_for(2)

    def _slots(self, ndim: int) -> dict[tuple[str, float], slice]:
        slots, i = {}, 0
        for f in self.filters:
            for s in self.sigmas:
                k = n_components(f, ndim)
                slots[f, s] = slice(i, i + k)
                i += k
        return slots

    def _blocks(self, x: np.ndarray, crop: tuple[slice, ...]):
        """Yield ``(filter, sigma, features[crop])`` for one padded 2-D or 3-D array."""
        backend = self.plane_backend if x.ndim == 2 else "scipy"
        if backend == "opencv":
            yield from opencv.filter_bank(x, self.filters, self.sigmas, crop)
            return
        if backend == "scipy":
            yield from filter_bank(x, self.filters, self.sigmas, crop)
            return
        dog = "difference_of_gaussians" in self.filters
        for s in self.sigmas:
            out = fast.compute_filters(x, s)[(slice(None), *crop)]
            for f in self.filters:
                if f in fast.CHANNELS:
                    ch = fast.CHANNELS[f]  # consecutive channels: slice, no copy
                    yield f, s, out[ch[0] : ch[-1] + 1]
            if dog:  # fastfilters2 G(s) minus scipy G(0.66 s)
                ((_, _, small),) = filter_bank(x, ("gaussian",), (DOG_RATIO * s,), crop)
                yield "difference_of_gaussians", s, out[:1] - small

    def _run(self, data: np.ndarray, ndim: int) -> np.ndarray:
        data = np.asarray(data, dtype=np.float32)
        if data.ndim != ndim + 1:
            raise ValueError(f"expected a (C, {'Z, ' * (ndim == 3)}H, W) array, got {data.shape}")
        slots = self._slots(ndim)
        per_channel = sum(sl.stop - sl.start for sl in slots.values())
        out = np.empty((data.shape[0] * per_channel, *data.shape[1:]), np.float32)
        p = self.padding
        crop = (slice(p, -p or None),) * ndim
        for c, channel in enumerate(data):
            padded = np.pad(channel, p, mode="reflect") if p else channel
            for f, s, block in self._blocks(padded, crop):
                sl = slots[f, s]
                out[c * per_channel + sl.start : c * per_channel + sl.stop] = block
        return out

    def extract(self, plane: np.ndarray) -> np.ndarray:
        """(C, H, W) float32 -> (C * len(feature_names), H, W) float32."""
        return self._run(plane, 2)

    def extract_interior(self, plane: np.ndarray, margin: tuple[int, int]) -> np.ndarray:
        """``extract(plane)`` cropped by ``margin`` = (my, mx) pixels on both sides of each
        axis, without the extractor's own padding when every margin is at least
        :attr:`padding` (same numbers: the kept pixels never see a border)."""
        plane = np.asarray(plane, dtype=np.float32)
        if plane.ndim != 3:
            raise ValueError(f"expected a (C, H, W) array, got {plane.shape}")
        crop = tuple(slice(m, n - m) for m, n in zip(margin, plane.shape[1:], strict=True))
        if min(margin) < self.padding:
            return self._run(plane, 2)[(slice(None), *crop)]
        slots = self._slots(2)
        per_channel = sum(sl.stop - sl.start for sl in slots.values())
        shape = tuple(sl.stop - sl.start for sl in crop)
        out = np.empty((plane.shape[0] * per_channel, *shape), np.float32)
        for c, channel in enumerate(plane):
            for f, s, block in self._blocks(channel, crop):
                sl = slots[f, s]
                out[c * per_channel + sl.start : c * per_channel + sl.stop] = block
        return out

    def extract_volume(self, volume: np.ndarray) -> np.ndarray:
        """(C, Z, H, W) -> (C * len(feature_names_for(3)), Z, H, W) float32, true 3-D filters."""
        return self._run(volume, 3)

    def extract_volume_interior(
        self, volume: np.ndarray, margin: tuple[int, int, int]
    ) -> np.ndarray:
        """``extract_volume(volume)`` cropped by ``margin`` = (mz, my, mx) voxels on both
        sides of each axis, without the extractor's own padding when every margin is at
        least :attr:`padding` (same numbers: the kept voxels never see a border)."""
        volume = np.asarray(volume, dtype=np.float32)
        if volume.ndim != 4:
            raise ValueError(f"expected a (C, Z, H, W) array, got {volume.shape}")
        crop = tuple(slice(m, n - m) for m, n in zip(margin, volume.shape[1:], strict=True))
        if min(margin) < self.padding:
            return self._run(volume, 3)[(slice(None), *crop)]
        slots = self._slots(3)
        per_channel = sum(sl.stop - sl.start for sl in slots.values())
        shape = tuple(sl.stop - sl.start for sl in crop)
        out = np.empty((volume.shape[0] * per_channel, *shape), np.float32)
        for c, channel in enumerate(volume):
            for f, s, block in filter_bank(channel, self.filters, self.sigmas, crop):
                sl = slots[f, s]
                out[c * per_channel + sl.start : c * per_channel + sl.stop] = block
        return out
