"""The checks of :mod:`convpaint.testing`: one extractor under test and what its checks share.

Each ``check_*`` method returns None when the extractor passes, a reason when the check
does not apply, or raises :class:`Problem` saying what is wrong (anything else it raises
is reported as a failure too). Models and the extractor are built once, on first use.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import math
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .extractor import FeatureExtractor, declaration_problems
from .registry import ExtractorSpec, get_registry
from .tiling import round_up

N_TREES = 5
ODD_SHAPE = (37, 53)
TINY_SHAPE = (5, 7)  # smaller than any patch (14, 16) and than every padding but tiny ones


class Problem(Exception):
    """What a check found wrong."""


def fail(message: str) -> None:
    raise Problem(message)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=False)


def _image(shape: tuple[int, int], channels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) or (H, W, C) float32: a bright disk on a noisy background; 2-class scribbles."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - h // 2) ** 2 + (xx - w // 2) ** 2 <= (min(h, w) / 3) ** 2
    gains = np.linspace(1.0, 0.6, channels, dtype=np.float32)
    image = np.where(disk, 0.8, 0.2)[..., None] * gains + rng.normal(0, 0.05, (h, w, channels))
    ann = np.zeros(shape, np.uint8)
    ann[0, :] = 1
    ann[h // 2, w // 2 - max(1, w // 8) : w // 2 + max(1, w // 8) + 1] = 2
    image = image.astype(np.float32)
    return (image[..., 0] if channels == 1 else image), ann


def _same(a: np.ndarray, b: np.ndarray, exact: bool) -> bool:
    if a.shape != b.shape:
        return False
    if exact:
        return bool(np.array_equal(a, b))
    return bool(np.allclose(a, b, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(a).max()))))


class Subject:
    """The extractor under test, its options and what the checks share (built lazily)."""

    def __init__(self, target: Any, options: Any, channels: Sequence[int], quick: bool) -> None:
        self.name: str | None
        self.cls: type[FeatureExtractor] | None
        if isinstance(target, str):
            if "+" in target:
                raise ValueError(
                    f"check_extractor takes one extractor, not a combination: {target!r}"
                )
            self.name, self.cls = target, None
        elif isinstance(target, type) and issubclass(target, FeatureExtractor):
            self.name, self.cls = None, target
        else:
            raise TypeError(
                f"expected an extractor name or a FeatureExtractor subclass, got {target!r}"
            )
        if options is not None and not isinstance(options, dict):
            raise TypeError(f"options must be a dict of extractor options, got {options!r}")
        counts = [int(c) for c in channels]
        if not counts or any(c < 1 or c != k for c, k in zip(counts, channels, strict=True)):
            raise ValueError(f"channels must be positive channel counts, got {channels!r}")
        self.options = dict(options or {})
        self.channels = counts[:1] if quick else list(dict.fromkeys(counts))
        self.quick = quick
        self.label = (
            target if self.cls is None else str(getattr(target, "name", "") or target.__qualname__)
        )
        self._cache: dict[Any, Any] = {}

    # -- building -------------------------------------------------------------------------
    def build(self, options: dict[str, Any] | None = None) -> FeatureExtractor:
        factory = self.cls or get_registry().spec(self.label).factory
        ex = factory(**(self.options if options is None else options))
        if not isinstance(ex, FeatureExtractor):
            fail(f"its factory returned {type(ex).__name__}, not a FeatureExtractor")
        return ex

    @property
    def ex(self) -> FeatureExtractor:
        if "ex" not in self._cache:
            ex = self.build()
            if declaration_problems(ex):
                fail("cannot be checked: it is misdeclared (see the 'declaration' check)")
            self._cache["ex"] = ex
        return self._cache["ex"]

    @property
    def unit(self) -> int:
        return math.lcm(int(self.ex.patch_size), int(self.ex.alignment))

    def plane(self, wide: int = 0, seed: int = 0) -> np.ndarray:
        """A (C, H, W) float32 plane sized as the core hands them (multiples of the unit)."""
        ex = self.ex
        h = round_up(max(2 * int(ex.padding) + 8, 20), self.unit)
        w = round_up(h + 3 + wide, self.unit)
        rng = np.random.default_rng(seed)
        return rng.standard_normal((int(ex.n_input_channels), h, w)).astype(np.float32)

    def model(self, **settings: Any) -> Any:
        from .model import ConvpaintModel

        return ConvpaintModel(self.ex, n_estimators=N_TREES, progress=False, **settings)

    def trained(self, channels: int, shape: tuple[int, int] = ODD_SHAPE, **settings: Any) -> Any:
        key = (channels, shape, tuple(sorted(settings.items())))
        if key not in self._cache:
            image, ann = _image(shape, channels)
            axes = "YX" if channels == 1 else "YXC"
            model = self.model(**settings).train(image, ann, axes=axes)
            self._cache[key] = (model, image, axes)
        return self._cache[key]

    def per_call(self) -> int:
        """Features per extract() call."""
        if "per_call" not in self._cache:
            self._cache["per_call"] = int(np.asarray(self.ex.extract(self.plane())).shape[0])
        return self._cache["per_call"]

    @contextlib.contextmanager
    def registered(self) -> Iterator[None]:
        """A class under test is findable by name while a model file is loaded."""
        specs = get_registry()._specs
        name = str(self.ex.name)
        old = specs.get(name)
        if self.cls is None or (old is not None and old.factory is self.cls):
            yield
            return
        specs[name] = ExtractorSpec(name, str(self.cls.description), self.cls, "")
        try:
            yield
        finally:
            if old is None:
                specs.pop(name, None)
            else:
                specs[name] = old

    # -- the checks -----------------------------------------------------------------------
    def check_declaration(self) -> str | None:
        ex = self.build()
        problems = declaration_problems(ex)
        if type(ex).extract is FeatureExtractor.extract:
            problems.append("it does not implement extract()")
        if self.cls is None and ex.name != self.label:
            problems.append(f"it is registered as {self.label!r} but its name is {ex.name!r}")
        if not isinstance(ex.description, str):
            problems.append(f"description must be a string, got {ex.description!r}")
        if problems:
            fail("; ".join(problems))
        return None

    def check_options(self) -> str | None:
        opts = self.ex.get_options()
        if not isinstance(opts, dict) or not all(isinstance(k, str) for k in opts):
            fail(f"get_options() must return a dict with string keys, got {opts!r}")
        try:
            text = _json(opts)
        except (TypeError, ValueError) as exc:
            fail(f"get_options() is not JSON-serialisable ({exc}): {opts!r}")
        again = _json(self.build(json.loads(text)).get_options())
        if again != text:
            fail(f"rebuilt from get_options() {text} it reports different options {again}")
        if getattr(self.ex, "supports_device", False):
            on_cpu = self.build({**self.options, "device": "cpu"}).get_options()
            if "device" in on_cpu or _json(on_cpu) != text:
                fail(f"device='cpu' changes the stored options to {on_cpu!r}: it is a run setting")
        repr(self.ex)
        return None

    def check_option_schema(self) -> str | None:
        schema = getattr(type(self.ex), "options", None)
        if not schema:
            return "declares no option schema (class attribute 'options')"
        names = [getattr(o, "name", None) for o in schema]
        if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
            fail(f"option names must be distinct non-empty strings, got {names!r}")
        stored = sorted(str(o.name) for o in schema if getattr(o, "stored", True))
        keys = sorted(self.ex.get_options())
        if stored != keys:
            fail(f"the stored options of the schema {stored} differ from get_options() keys {keys}")
        params = inspect.signature(type(self.ex)).parameters.values()
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            missing = sorted({str(n) for n in names} - {p.name for p in params})
            if missing:
                fail(f"schema options {missing} are not parameters of {type(self.ex).__name__}()")
        opts = self.ex.get_options()
        for name, value in self.options.items():
            if name in opts and _json(opts[name]) != _json(value):
                fail(f"option {name}={value!r} was given but get_options() has {opts[name]!r}")
        return None

    def check_extract(self) -> str | None:
        ex, p = self.ex, int(self.ex.patch_size)
        counts = []
        for wide in (0, self.unit):
            plane = self.plane(wide)
            before = plane.copy()
            out = ex.extract(plane)
            expected = (plane.shape[1] // p, plane.shape[2] // p)
            if not isinstance(out, np.ndarray):
                fail(f"extract() returned {type(out).__name__}; expected a NumPy array")
            if out.ndim != 3 or out.shape[1:] != expected or out.shape[0] < 1:
                fail(
                    f"extract() of a {plane.shape} plane returned shape {out.shape}; "
                    f"expected (F >= 1, {expected[0]}, {expected[1]})"
                )
            if out.dtype != np.float32:
                fail(f"extract() returned dtype {out.dtype}; expected float32")
            if not np.isfinite(out).all():
                fail(f"extract() of a {plane.shape} plane returned NaN or infinite values")
            if not np.array_equal(plane, before):
                fail("extract() modified its input plane")
            counts.append(out.shape[0])
        n = getattr(ex, "n_features", None)
        if counts[0] != counts[1] or (isinstance(n, int) and n != counts[0]):
            fail(f"features per call vary: {counts} for two plane sizes, n_features={n!r}")
        return None

    def check_bad_plane(self) -> str | None:
        ex, plane = self.ex, self.plane()
        c = int(ex.n_input_channels)
        bad = [(f"a 2-D {plane[0].shape} array (no channel axis)", plane[0])]
        if c > 1:
            bad.append((f"a plane of {c - 1} channel(s) instead of {c}", plane[: c - 1]))
        for what, arr in bad:
            try:
                out = ex.extract(arr)
            except Exception as exc:
                if not str(exc).strip():
                    fail(f"extract() of {what} raised {type(exc).__name__} with no message")
                continue
            shape = getattr(out, "shape", type(out).__name__)
            fail(
                f"extract() accepted {what} and returned {shape}; it should raise an "
                f"error naming the expected ({c}, H, W) shape"
            )
        return None

    def check_determinism(self) -> str | None:
        ex, plane = self.ex, self.plane(seed=1)
        exact = bool(ex.deterministic)
        word = "bit-identical" if exact else "close"
        first = ex.extract(plane)
        if not _same(first, ex.extract(plane), exact):
            fail(f"two extract() calls on the same plane are not {word}")
        if not self.quick and not _same(first, self.build().extract(plane), exact):
            fail(
                f"a second instance with the same options gives features that are not {word} "
                "(random weights must be seeded)"
            )
        return None

    def check_core(self, channels: int) -> str | None:
        model, image, axes = self.trained(channels)
        spatial = image.shape[:2]
        n = self.ex.n_input_channels
        calls = channels if n == 1 else (1 if channels == n else channels)
        want = calls * len(self.ex.default_scalings) * self.per_call()
        feats = model.compute_features(image, axes=axes)
        if feats.shape != (want, *spatial) or model.n_features_ != want:
            fail(
                f"{channels}-channel {spatial} image: features {feats.shape}, n_features_ "
                f"{model.n_features_}; expected ({want}, {spatial[0]}, {spatial[1]})"
            )
        self._segment(model, image, axes, f"{channels}-channel {spatial} image")
        return None

    def _segment(self, model: Any, image: np.ndarray, axes: str, what: str) -> None:
        spatial = image.shape[:2]
        labels = model.segment(image, axes=axes)
        if labels.shape != spatial or labels.dtype.kind not in "iu":
            fail(f"{what}: labels of shape {labels.shape} and dtype {labels.dtype}")
        if not set(np.unique(labels)) <= {1, 2}:
            fail(f"{what}: labels {sorted(set(np.unique(labels)))} are not the classes [1, 2]")
        proba = model.predict_proba(image, axes=axes)
        if proba.shape != (2, *spatial) or not np.allclose(proba.sum(axis=0), 1, atol=1e-5):
            fail(f"{what}: probabilities of shape {proba.shape} that do not sum to 1")

    def check_small_image(self) -> str | None:
        model, image, axes = self.trained(self.channels[0], TINY_SHAPE)
        self._segment(
            model,
            image,
            axes,
            f"{TINY_SHAPE} image (padding {self.ex.padding}, patch {self.ex.patch_size})",
        )
        return None

    def check_tiled_untiled(self) -> str | None:
        ex = self.ex
        claim = getattr(ex, "tile_exact", None)
        if not (ex.deterministic if claim is None else claim):
            return "declares deterministic=False: tiled and untiled features may differ"
        tile = round_up(32, self.model().pipeline.align)
        shape = (2 * tile + 9, 3 * tile - 5) if not self.quick else (tile + 9, 2 * tile - 5)
        c = self.channels[0]
        small, image, axes = self.trained(c, shape, tile_size=tile)
        big, _, _ = self.trained(c, shape, tile_size=4 * tile)
        a, b = small.compute_features(image, axes=axes), big.compute_features(image, axes=axes)
        if not np.array_equal(a, b):
            diff = (
                float(np.abs(a - b).max()) if a.shape == b.shape else f"shapes {a.shape}, {b.shape}"
            )
            fail(
                f"features with {tile}-px tiles differ from one tile (max |diff| {diff}) "
                "although it declares deterministic=True"
            )
        if not np.array_equal(
            small.predict_proba(image, axes=axes), big.predict_proba(image, axes=axes)
        ):
            fail(f"probabilities with {tile}-px tiles differ from one tile")
        return None

    def check_model_file(self) -> str | None:
        from .loading import load_model

        model, image, axes = self.trained(self.channels[0])
        with tempfile.TemporaryDirectory() as tmp, self.registered():
            loaded = load_model(model.save(Path(tmp) / "model.npz"))
        before, after = _json(model.extractor.get_options()), _json(loaded.extractor.get_options())
        if type(loaded.extractor) is not type(model.extractor) or before != after:
            fail(f"the loaded model's extractor is {loaded.extractor!r}; saved {model.extractor!r}")
        a, b = model.predict_proba(image, axes=axes), loaded.predict_proba(image, axes=axes)
        if not _same(a, b, bool(self.ex.deterministic)):
            fail("the loaded model's probabilities differ from the saved model's")
        return None

    def check_volume(self) -> str | None:
        ex = self.ex
        if not ex.supports_volume:
            return "declares supports_volume=False"
        rng = np.random.default_rng(2)
        vol = rng.standard_normal((int(ex.n_input_channels), 4, 12, 13)).astype(np.float32)
        out = ex.extract_volume(vol)
        if not isinstance(out, np.ndarray) or out.ndim != 4 or out.shape[1:] != vol.shape[1:]:
            fail(
                f"extract_volume() of {vol.shape} returned {getattr(out, 'shape', out)!r}; "
                f"expected (F, {', '.join(map(str, vol.shape[1:]))})"
            )
        if out.dtype != np.float32 or not np.isfinite(out).all():
            fail(f"extract_volume() returned dtype {out.dtype} or non-finite values")
        if not self.quick:
            image, ann = _image((30, 34), 1)
            stack, labels = np.stack([image] * 4), np.stack([ann] + [np.zeros_like(ann)] * 3)
            model = self.model(volumetric=True).train(stack, labels, axes="ZYX")
            if model.segment(stack, axes="ZYX").shape != stack.shape:
                fail("a volumetric model's labels do not have the stack's shape")
        return None
