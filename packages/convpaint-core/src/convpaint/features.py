"""Per-pixel features of one padded block: channels -> pyramid -> extractor parts.

:class:`FeaturePipeline` is the only place that calls extractors.  Its
:meth:`~FeaturePipeline.block_features` takes a block that carries a halo of
``pipeline.halo`` pixels on every side (as :mod:`convpaint.tiling` or
``dask.array.map_overlap`` produce) and returns features for the block's
interior only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .cancel import Cancelled
from .combine import ConcatExtractor
from .extractor import ExtractorError, FeatureExtractor
from .feature_maps import FeatureMaps, Level
from .normalize import imagenet
from .pyramid import downscale
from .registry import check_instance, describe_extractor
from .tiling import round_up
from .upsampler import FeatureUpsampler
from .upsampling import check_upsampled, up_call, upsampled_parts
from .volume import extract_volume_at_scale, xy_crop


@dataclass(frozen=True)
class Part:
    """One extractor of the pipeline with the pyramid scalings it runs at and the upsampler
    that brings its patch features to pixels (None: bilinear)."""

    extractor: FeatureExtractor
    scalings: tuple[int, ...]
    upsampler: FeatureUpsampler | None = None

    @property
    def unit(self) -> int:
        """Input-pixel granularity the extractor needs at scale 1."""
        ex = self.extractor
        return math.lcm(max(1, int(ex.patch_size)), max(1, int(ex.alignment)))

    @property
    def halo(self) -> int:
        """Pixels of context every output pixel needs, at full resolution."""
        ex, up = self.extractor, self.upsampler
        return max(
            int(ex.padding) * s
            + s * int(ex.patch_size)
            + (up.context(s * int(ex.patch_size)) if up is not None else 0)
            for s in self.scalings
        )


def _check_scalings(scalings: tuple[int, ...]) -> tuple[int, ...]:
    out = tuple(int(s) for s in scalings)
    if not out or any(s < 1 or s != f for s, f in zip(out, scalings, strict=True)):
        raise ValueError(f"scalings must be positive integers, got {scalings!r}")
    return out


def channel_groups(n_channels: int, wanted: int) -> list[list[int]]:
    """Which image channels feed each call of an extractor taking ``wanted`` channels."""
    if n_channels == wanted:
        return [list(range(n_channels))]
    if wanted == 1:
        return [[c] for c in range(n_channels)]
    # gray -> replicate; other counts -> each channel replicated to ``wanted``
    return [[c] * wanted for c in range(n_channels)]


class FeaturePipeline:
    """Turn normalised (C, H, W) blocks into (F, H - 2 halo, W - 2 halo) features."""

    def __init__(
        self,
        extractor: FeatureExtractor,
        scalings: tuple[int, ...] | None = None,
        normalize: str = "image",
        upsampler: FeatureUpsampler | None = None,
    ) -> None:
        parts = extractor.parts if isinstance(extractor, ConcatExtractor) else [extractor]
        for p in parts:
            check_instance(p)
        self.extractor = extractor
        self.normalize = normalize
        #: brings patch features (patch_size > 1) to pixels; None: bilinear (pyramid)
        self.upsampler = upsampler
        chosen = upsampled_parts(parts, upsampler)
        #: features per call of each (part, scale, plane or volume): a plugin must not vary it
        self._n_features: dict[tuple[int, int, int], int] = {}
        self.parts = [
            Part(p, _check_scalings(tuple(scalings or p.default_scalings)), up)
            for p, up in zip(parts, chosen, strict=True)
        ]
        self.align = math.lcm(*(s * p.unit for p in self.parts for s in p.scalings))
        self.halo = round_up(max(p.halo for p in self.parts), self.align)

    @property
    def zpad(self) -> int:
        """Planes of Z context the 3-D extractors get on both ends of a volume."""
        return max(int(p.extractor.padding) for p in self.parts)

    @property
    def stored_fraction(self) -> float:
        """Values per pixel a :class:`FeatureMaps` holds, as a fraction of the dense
        features (an estimate: every (part, scaling) counted alike)."""
        shares = [
            1 / (1 if p.upsampler else s * int(p.extractor.patch_size)) ** 2
            for p in self.parts
            for s in p.scalings
        ]
        return sum(shares) / len(shares)

    @property
    def supports_volume(self) -> bool:
        return all(p.extractor.supports_volume for p in self.parts)

    def block_features(self, block: np.ndarray, full_scale: float = 1.0) -> np.ndarray:
        """Features of the interior of a (C, H, W) or, for volumes, (C, Z, H, W) block.

        ``full_scale`` is the input dtype's range (ImageNet statistics of RGB
        extractors with ``normalize="none"``).
        """
        return self.block_maps(block, full_scale).dense()

    def block_maps(self, block: np.ndarray, full_scale: float = 1.0) -> FeatureMaps:
        """:meth:`block_features` before upsampling: each extractor output at its own scale."""
        h = self.halo
        *_, ny, nx = block.shape
        if ny <= 2 * h or nx <= 2 * h:
            raise ValueError(f"block {block.shape[-2:]} is not larger than twice the halo {h}")
        # pad the far end so that every pyramid level divides evenly
        extra = [(0, 0)] * (block.ndim - 2) + [
            (0, round_up(ny, self.align) - ny),
            (0, round_up(nx, self.align) - nx),
        ]
        padded = np.pad(block, extra, mode="symmetric") if any(e[1] for e in extra) else block
        shape = (ny - 2 * h, nx - 2 * h)
        levels = [
            Level(f, factor, h - crop * factor)  # volumes come cropped (convpaint.volume)
            for part in self.parts
            for f, factor, crop in self._part_features(part, padded, full_scale)
        ]
        return FeatureMaps(levels, (*padded.shape[1:-2], *shape))

    def _part_features(
        self, part: Part, block: np.ndarray, full_scale: float
    ) -> list[tuple[np.ndarray, int, int]]:
        ex = part.extractor
        wanted = int(ex.n_input_channels)
        maps = []
        for group in channel_groups(block.shape[0], wanted):
            inp = block[group]
            if ex.rgb and self.normalize == "none" and wanted == 3:
                inp = imagenet(inp, full_scale)
            inp = np.ascontiguousarray(inp, dtype=np.float32)
            for s in part.scalings:
                # an upsampler reads the features beside their input: whole planes
                f, factor, crop = self._extract_at_scale(ex, inp, s, part.upsampler is None)
                if part.upsampler is not None:  # at pixels here: a factor-1 level
                    if inp.ndim == 4:
                        raise ValueError("feature upsamplers featurise planes, not volumes")
                    up = part.upsampler
                    f, factor = check_upsampled(up, up_call(up, f, inp, factor), f, inp), 1
                maps.append((f, factor, crop))
        return maps

    def _extract_at_scale(
        self, ex: FeatureExtractor, inp: np.ndarray, scale: int, interior: bool = True
    ) -> tuple[np.ndarray, int, int]:
        """Features at the scale's own resolution, the factor back to pixels and the coarse
        pixels cropped from each XY side: the halo's for volumes and, when ``interior``, for
        planes of extractors with their own ``extract_interior`` (else 0: ``extract``,
        whose output is checked as it came)."""
        small = downscale(inp, scale)
        factor = scale * int(ex.patch_size)
        # the halo's features are never read: extractors that can skip them are asked to
        own = type(ex).extract_interior is not FeatureExtractor.extract_interior
        crop = xy_crop(self.halo, factor) if small.ndim == 4 or (interior and own) else 0
        try:
            if small.ndim == 4:  # (C, Z, H, W): true 3-D features, slab by slab, halos cropped
                raw = extract_volume_at_scale(ex, small, crop)
            elif crop:
                raw = ex.extract_interior(small, (crop, crop))
            else:
                raw = ex.extract(small)
        except (ExtractorError, MemoryError, Cancelled):
            raise
        except Exception as exc:
            raise ExtractorError(
                f"{describe_extractor(ex)} failed: {type(exc).__name__}: {exc}"
            ) from exc
        expected = tuple(n // int(ex.patch_size) - 2 * crop for n in small.shape[-2:])
        f = self._checked(ex, raw, small, expected, (scale, small.ndim))
        return f, factor, crop

    def _checked(
        self,
        ex: FeatureExtractor,
        raw: object,
        small: np.ndarray,
        expected: tuple[int, ...],
        key: tuple[int, int],
    ) -> np.ndarray:
        """``raw`` as float32 features, or an :class:`ExtractorError` naming the extractor."""
        f = np.asarray(raw)
        problem = ""
        if f.dtype.kind not in "fiub":
            problem = f"features of dtype {f.dtype}; expected a numeric (float32) array"
        elif f.ndim != small.ndim or f.shape[-2:] != expected or f.shape[0] == 0:
            problem = (
                f"features of shape {f.shape} for input {small.shape}; "
                f"expected (F > 0, {'Z, ' * (small.ndim == 4)}{expected[0]}, {expected[1]})"
            )
        else:
            with np.errstate(over="ignore"):  # float64 beyond float32's range -> inf, below
                f = np.asarray(f, dtype=np.float32)
            if not (np.isfinite(f.min()) and np.isfinite(f.max())):  # NaN propagates
                problem = "NaN or infinite features (or values beyond float32's range)"
            else:
                n = self._n_features.setdefault((id(ex), *key), f.shape[0])
                if n != f.shape[0]:
                    problem = f"{f.shape[0]} features here but {n} on an earlier tile"
        if problem:
            raise ExtractorError(f"{describe_extractor(ex)} returned {problem}")
        return f
