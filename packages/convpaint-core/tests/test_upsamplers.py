"""Feature upsamplers (issue 19 item 2a): the guided upsampler, the pipeline, model files, CLI.

A tiny patch extractor (``patch4``: 4x4 patch statistics, no torch) stands in for a ViT.
"""

from __future__ import annotations

import json
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import convpaint
from convpaint import builtin_upsamplers, upsampler_registry
from convpaint.builtin_upsamplers import GuidedUpsampler, _box
from convpaint.features import FeaturePipeline
from convpaint.model_file import ModelFileError
from convpaint.pyramid import downscale, upsample
from convpaint.testing import PatchStats, registered


@pytest.fixture
def patch4() -> Iterator[str]:
    """``patch4`` registered in a fresh extractor registry (forgotten afterwards)."""
    with registered(extractors=[PatchStats]):
        yield "patch4"


def cells_image(shape=(72, 88), seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bright disks with edges inside patches, their truth and scribbles."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    truth = np.ones(shape, np.uint8)
    for cy, cx, r in [(20, 21, 11), (50, 62, 13), (55, 17, 7), (17, 70, 6)]:
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = 2
    image = np.where(truth == 2, 0.8, 0.2) + rng.normal(0, 0.05, shape)
    scribbles = np.zeros(shape, np.uint8)
    scribbles[3, 3:80], scribbles[40:44, 40] = 1, 1
    scribbles[48:53, 58:66], scribbles[20, 15:27] = 2, 2
    return image.astype(np.float32), truth, scribbles


# -- the guided filter itself --------------------------------------------------------------
def reference(features, guide, k, radius, eps):
    """The guided filter at pixel resolution, written out: nearest-upsampled features, windows
    of (2 radius + 1)^2 patches, one ridge regression per window, window-averaged
    coefficients brought to pixels bilinearly, q = a I + b."""
    f = features.astype(np.float64)
    g = guide.astype(np.float64)
    n, (nf, h, w) = g.shape[0], f.shape
    p = f.repeat(k, 1).repeat(k, 2)
    a = np.zeros((n, nf, h, w))
    b = np.zeros((nf, h, w))
    pad = np.pad(np.arange(h * w).reshape(h, w), radius, mode="edge")
    for i in range(h):
        for j in range(w):
            cells = pad[i : i + 2 * radius + 1, j : j + 2 * radius + 1].ravel()
            rows = np.concatenate([np.arange(k) + (c // w) * k for c in cells])
            cols = np.concatenate([np.arange(k) + (c % w) * k for c in cells])
            rr, cc = np.meshgrid(rows, cols, indexing="ij")  # every pixel of every cell
            x = g[:, rr.ravel(), cc.ravel()].T  # (pixels, n)
            y = p[:, rr.ravel(), cc.ravel()].T  # (pixels, F)
            xm, ym = x.mean(0), y.mean(0)
            cov = (x - xm).T @ (y - ym) / len(x)
            sigma = (x - xm).T @ (x - xm) / len(x) + eps * np.eye(n)
            coef = np.linalg.solve(sigma, cov)  # (n, F)
            a[:, :, i, j], b[:, i, j] = coef, ym - xm @ coef
    a, b = _box(a, radius), _box(b, radius)
    out = upsample(b.astype(np.float32), k).astype(np.float64)
    for c in range(n):
        out += upsample(a[c].astype(np.float32), k) * g[c]
    return out


@pytest.mark.parametrize("guide", ["mean", "rgb"])
@pytest.mark.parametrize("radius", [1, 2])
def test_guided_equals_the_pixel_resolution_guided_filter(guide, radius):
    rng = np.random.default_rng(3)
    k = 4
    features = rng.normal(size=(3, 5, 6)).astype(np.float32)
    image = rng.normal(size=(3, 20, 24)).astype(np.float32)
    up = GuidedUpsampler(radius=radius, eps=0.05, guide=guide)
    out = up.upsample(features, image, k)
    g = image.mean(0, keepdims=True, dtype=np.float32) if guide == "mean" else image
    np.testing.assert_allclose(out, reference(features, g, k, radius, 0.05), rtol=1e-4, atol=1e-4)
    assert out.dtype == np.float32 and out.shape == (3, 20, 24)


def test_guided_follows_edges_inside_patches():
    """Features that only know each 14-px patch's object fraction: guided by the image the
    object boundary is recovered far better than by bilinear interpolation."""
    rng = np.random.default_rng(0)
    k, n = 14, 16 * 14
    yy, xx = np.mgrid[:n, :n]
    truth = (((yy - 100) ** 2 + (xx - 120) ** 2) < 60**2).astype(np.float32)
    truth[((yy - 40) ** 2 + (xx - 40) ** 2) < 15**2] = 1
    image = truth + rng.normal(0, 0.1, truth.shape).astype(np.float32)
    image = (image - image.mean()) / image.std()
    fraction = downscale(truth[None], k)
    wrong_bilinear = np.mean((upsample(fraction, k)[0] > 0.5) != (truth > 0.5))
    wrong_guided = np.mean((GuidedUpsampler().upsample(fraction, image[None], k)[0] > 0.5) != truth)
    assert wrong_guided < 0.4 * wrong_bilinear, (wrong_guided, wrong_bilinear)


def test_compiled_kernel_and_numpy_path_agree(monkeypatch):
    rng = np.random.default_rng(1)
    features = rng.normal(size=(40, 6, 7)).astype(np.float32)  # more than one CHUNK
    for channels, guide in ((1, "mean"), (3, "rgb")):
        image = rng.normal(size=(channels, 6 * 14, 7 * 14)).astype(np.float32)
        up = GuidedUpsampler(guide=guide)
        fast = up.upsample(features, image, 14)
        with monkeypatch.context() as m:
            m.setattr(builtin_upsamplers, "_kernel", lambda: None)
            slow = up.upsample(features, image, 14)
        assert np.array_equal(fast, slow)


@pytest.mark.parametrize("radius", [1, 2])
def test_guided_crop_with_context_equals_the_whole(radius):
    """A block whose border lies ``context(k)`` beyond the output (plus the bilinear cell)
    gives the whole plane's values bit for bit."""
    rng = np.random.default_rng(2)
    k = 4
    up = GuidedUpsampler(radius=radius)
    features = rng.normal(size=(5, 20, 22)).astype(np.float32)
    image = rng.normal(size=(1, 80, 88)).astype(np.float32)
    whole = up.upsample(features, image, k)
    halo = up.context(k) + k  # + k: bilinear reads the neighbouring patch
    y0, x0 = 6 * k, 5 * k  # block origin, on the patch grid
    block = up.upsample(features[:, 6:16, 5:18], image[:, y0 : y0 + 40, x0 : x0 + 52], k)
    inner = block[:, halo:-halo, halo:-halo]
    assert np.array_equal(inner, whole[:, y0 + halo : y0 + 40 - halo, x0 + halo : x0 + 52 - halo])


def test_guided_options_are_checked():
    with pytest.raises(ValueError, match="radius of upsampler 'guided' must be in 1..16"):
        GuidedUpsampler(radius=0)
    with pytest.raises(TypeError, match="radius .* must be an integer"):
        GuidedUpsampler(radius=1.5)
    with pytest.raises(ValueError, match="eps of upsampler 'guided' must be in"):
        GuidedUpsampler(eps=-1)
    with pytest.raises(ValueError, match="guide of upsampler 'guided' must be one of"):
        GuidedUpsampler(guide="hsv")
    # by name, the declared schema checks first: a ValueError naming option and upsampler
    with pytest.raises(ValueError, match="upsampler 'guided' has no option 'sigma'.*radius"):
        convpaint.get_upsampler("guided", sigma=2)
    with pytest.raises(ValueError, match="option 'eps' of upsampler 'guided'.*outside"):
        convpaint.get_upsampler("guided", eps=-1)
    assert convpaint.get_upsampler("guided", radius="2").radius == 2  # text from the CLI
    with pytest.raises(ValueError, match="do not match at factor 4"):
        GuidedUpsampler().upsample(np.zeros((2, 3, 3), np.float32), np.zeros((1, 10, 12)), 4)
    up = convpaint.get_upsampler("guided", radius=2, eps=0.5, guide="rgb")
    assert up.get_options() == {"radius": 2, "eps": 0.5, "guide": "rgb"}


# -- discovery -----------------------------------------------------------------------------
def test_guided_is_listed_and_unknown_names_list_the_installed():
    assert "guided" in convpaint.list_upsamplers()
    spec = upsampler_registry.get_upsampler_registry().spec("guided")
    assert spec.distribution == "convpaint-core"
    with pytest.raises(convpaint.UpsamplerNotFoundError, match="no upsampler named 'nope'.*guided"):
        convpaint.get_upsampler("nope")
    with pytest.raises(convpaint.UpsamplerNotFoundError, match="no upsampler named 'nope'"):
        convpaint.ConvpaintModel("raw", upsampler="nope")


# -- the pipeline and the model ------------------------------------------------------------
def test_upsampler_applies_to_patch_parts_only(patch4):
    up = convpaint.get_upsampler("guided")
    plain = FeaturePipeline(convpaint.get_extractor("patch4"))
    guided = FeaturePipeline(convpaint.get_extractor("patch4"), upsampler=up)
    assert guided.halo == plain.halo + up.context(4)
    combo = FeaturePipeline(convpaint.get_extractor("raw+patch4"), (1, 2), upsampler=up)
    assert [p.upsampler for p in combo.parts] == [None, up]
    with pytest.raises(ValueError, match=r"applies to extractors with patch features.*'raw'"):
        convpaint.ConvpaintModel("raw", upsampler="guided")
    with pytest.raises(ValueError, match="upsampler_options given without an upsampler"):
        convpaint.ConvpaintModel("raw", upsampler_options={"radius": 2})


def test_training_reads_the_values_prediction_reads(patch4):
    """FeatureMaps.at (training, coarse-to-fine) equals dense() on upsampled levels."""
    pipeline = FeaturePipeline(
        convpaint.get_extractor("raw+patch4"), (1, 2), upsampler=convpaint.get_upsampler("guided")
    )
    rng = np.random.default_rng(4)
    block = rng.normal(size=(1, 2 * pipeline.halo + 30, 2 * pipeline.halo + 26)).astype(np.float32)
    maps = pipeline.block_maps(block)
    dense = maps.dense()
    rows, cols = rng.integers(0, 30, 50), rng.integers(0, 26, 50)
    assert np.array_equal(maps.at(rows, cols), dense[:, rows, cols])
    assert np.array_equal(maps.compact().dense(), dense)


def test_model_tiled_equals_untiled_and_differs_from_bilinear(patch4):
    image, _, scribbles = cells_image()
    kwargs = dict(extractor="patch4", n_estimators=10, upsampler="guided")
    small = convpaint.ConvpaintModel(tile_size=16, **kwargs).train(image, scribbles)
    big = convpaint.ConvpaintModel(tile_size=4096, **kwargs).train(image, scribbles)
    f_small, f_big = small.compute_features(image), big.compute_features(image)
    assert np.array_equal(f_small, f_big)
    assert np.array_equal(small.predict_proba(image), big.predict_proba(image))
    bilinear = convpaint.ConvpaintModel("patch4", n_estimators=10).compute_features(image)
    assert f_big.shape == bilinear.shape and not np.allclose(f_big, bilinear)


def test_guided_segments_better_than_bilinear(patch4):
    image, truth, scribbles = cells_image()
    acc = {}
    for up in (None, "guided"):
        model = convpaint.ConvpaintModel("patch4", upsampler=up, n_estimators=30, workers=1)
        labels = model.train(image, scribbles).segment(image)
        acc[up] = np.mean(labels == truth)
    assert acc["guided"] > acc[None], acc


def test_region_equals_the_crop_and_lazy_equals_eager(patch4):
    da = pytest.importorskip("dask.array")
    image, _, scribbles = cells_image()
    model = convpaint.ConvpaintModel("patch4", upsampler="guided", n_estimators=10)
    model.train(image, scribbles)
    full = model.segment(image)
    region = (slice(13, 51), slice(30, 77))
    assert np.array_equal(model.segment(image, region=region), full[region])
    lazy = model.segment(da.from_array(image, chunks=(40, 40)))
    assert np.array_equal(np.asarray(lazy.compute()), full)


def test_model_file_round_trip(patch4, tmp_path: Path):
    image, _, scribbles = cells_image()
    options = {"radius": 2, "eps": 0.05}
    model = convpaint.ConvpaintModel(
        "patch4", upsampler="guided", upsampler_options=options, n_estimators=10
    )
    model.train(image, scribbles)
    path = model.save(tmp_path / "m.npz")
    loaded = convpaint.load_model(path)
    assert loaded.upsampler.get_options() == {**options, "guide": "mean"}
    assert loaded.fingerprint() == model.fingerprint()
    assert np.array_equal(loaded.segment(image), model.segment(image))
    meta = read_meta(path)
    assert meta["upsampler"] == {
        "name": "guided",
        "options": {"radius": 2, "eps": 0.05, "guide": "mean"},
        "package": "convpaint-core",
    }
    other = convpaint.ConvpaintModel("patch4", upsampler="guided", n_estimators=10)
    assert other.train(image, scribbles).fingerprint() != model.fingerprint()
    plain = convpaint.ConvpaintModel("patch4", n_estimators=10).train(image, scribbles)
    assert "upsampler" not in plain._metadata()  # files without one keep their fingerprint


def read_meta(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return json.loads(data["meta"].tobytes().decode())


def rewrite_meta(path: Path, meta: dict) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with zipfile.ZipFile(path, "w") as zf:
        for name, arr in arrays.items():
            with zf.open(f"{name}.npy", "w") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)


@pytest.mark.parametrize(
    "field, pattern",
    [
        ({"name": "jafar-x", "options": {}, "package": "convpaint-upx"}, None),
        ("guided", r"upsampler must be a mapping"),
        ({"name": ""}, r"upsampler.name must be a string"),
        ({"name": "guided", "options": {"eps": 1e300}}, r"upsampler.options.eps must be a finite"),
        ({"name": "guided", "code": "x"}, r"upsampler must be a mapping of name, options"),
        ({"name": "guided", "options": {"radius": 0}}, r"invalid model settings.*radius"),
    ],
)
def test_model_files_with_bad_or_missing_upsamplers(patch4, tmp_path: Path, field, pattern):
    image, _, scribbles = cells_image()
    model = convpaint.ConvpaintModel("patch4", upsampler="guided", n_estimators=3)
    path = model.train(image, scribbles).save(tmp_path / "m.npz")
    rewrite_meta(path, {**read_meta(path), "upsampler": field})
    if pattern is None:  # not installed: name it and its package
        pattern = r"needs upsampler 'jafar-x', which is not installed -- install convpaint-upx"
    with pytest.raises(ModelFileError, match=pattern):
        convpaint.load_model(path)


def test_cli_train_with_upsampler_and_extractors_lists_them(patch4, tmp_path: Path, capsys):
    import tifffile

    from convpaint import cli

    image, _, scribbles = cells_image()
    tifffile.imwrite(tmp_path / "img.tif", image)
    tifffile.imwrite(tmp_path / "ann.tif", scribbles)
    out = tmp_path / "m.npz"
    args = ["train", str(tmp_path / "img.tif"), "-a", str(tmp_path / "ann.tif"), "-o", str(out)]
    args += ["-e", "patch4", "--upsampler", "guided", "--upsampler-option", "radius=2", "-q"]
    assert cli.main(args) == 0
    assert read_meta(out)["upsampler"]["options"]["radius"] == 2
    assert cli.main([*args[:5], str(tmp_path / "n.npz"), "-e", "patch4", "--upsampler", "x"]) == 2
    assert "no upsampler named 'x' is installed" in capsys.readouterr().err
    assert cli.main(["extractors"]) == 0
    text = capsys.readouterr().out
    assert "UPSAMPLER" in text and "guided" in text.split("UPSAMPLER")[1]


@pytest.mark.slow
def test_dinov2_random_weights_with_guided():
    pytest.importorskip("convpaint_dinov2")
    image, truth, scribbles = cells_image((84, 98))
    model = convpaint.ConvpaintModel("dinov2", weights="random", upsampler="guided", workers=1)
    labels = model.train(image, scribbles).segment(image)
    assert labels.shape == truth.shape and set(np.unique(labels)) <= {1, 2}


# -- faulty upsampler plugins --------------------------------------------------------------
class FakeEntryPoint:
    def __init__(self, name: str, loader) -> None:
        self.name, self._loader = name, loader
        self.dist = types.SimpleNamespace(name="convpaint-badup")

    def load(self):
        return self._loader()


def plugin_returning(make) -> types.ModuleType:
    mod = types.ModuleType("cp_test_badup")

    @convpaint.hookimpl
    def convpaint_upsamplers():
        return make()

    mod.convpaint_upsamplers = convpaint_upsamplers  # type: ignore[attr-defined]
    return mod


class Broken(convpaint.FeatureUpsampler):
    name = "broken"

    def upsample(self, features, guide, factor):
        raise ZeroDivisionError("no")


class Misshapen(convpaint.FeatureUpsampler):
    name = "misshapen"

    def upsample(self, features, guide, factor):
        return features


class Misdeclared(convpaint.FeatureUpsampler):
    name = "misdeclared"
    padding = -3


def _raise(exc):
    raise exc


UPSAMPLER_FAULTS = {
    "import_error": (lambda: _raise(ImportError("no libfoo")), r"importing it failed: ImportE"),
    "no_hook": (lambda: types.ModuleType("empty"), r"no convpaint_upsamplers\(\) hook"),
    "hook_raises": (
        lambda: plugin_returning(lambda: _raise(KeyError("cfg"))),
        r"convpaint_upsamplers\(\) raised KeyError",
    ),
    "returns_none": (lambda: plugin_returning(lambda: None), r"returned None; expected a list"),
    "returns_extractor": (
        lambda: plugin_returning(lambda: [PatchStats]),
        r"PatchStats'> is not a FeatureUpsampler subclass",
    ),
    "bad_name": (
        lambda: plugin_returning(lambda: [type("N", (Broken,), {"name": "a+b"})]),
        r"upsampler class .*N has an invalid name 'a\+b'",
    ),
}


def upsampler_registry_with(monkeypatch, loaders: dict) -> upsampler_registry.UpsamplerRegistry:
    import importlib.metadata as md

    eps = [FakeEntryPoint(name, loader) for name, loader in loaders.items()]
    monkeypatch.setattr(
        md, "entry_points", lambda group: eps if group == "convpaint.upsamplers" else []
    )
    reg = upsampler_registry.UpsamplerRegistry()
    reg.load_entry_points()
    monkeypatch.setattr(upsampler_registry, "_REGISTRY", reg)
    return reg


@pytest.mark.parametrize("fault", list(UPSAMPLER_FAULTS))
def test_faulty_upsampler_plugin_is_skipped_with_one_warning(monkeypatch, fault):
    loader, pattern = UPSAMPLER_FAULTS[fault]
    good = plugin_returning(lambda: [GuidedUpsampler])
    with pytest.warns(RuntimeWarning) as caught:
        reg = upsampler_registry_with(monkeypatch, {"bad": loader, "good": lambda: good})
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert "skipping upsampler plugin 'bad' from package convpaint-badup" in messages[0]
    assert __import__("re").search(pattern, messages[0]), messages[0]
    assert reg.names() == ["guided"]


def test_faulty_upsamplers_are_refused_naming_them(monkeypatch, patch4):
    plugin = plugin_returning(lambda: [Broken, Misshapen, Misdeclared])
    upsampler_registry_with(monkeypatch, {"bad": lambda: plugin})
    who = "upsampler '{}' (package convpaint-badup)"
    with pytest.raises(convpaint.UpsamplerError, match=r"misdeclared: padding must be an integer"):
        convpaint.get_upsampler("misdeclared")
    image, _, scribbles = cells_image()
    for name, pattern in (("broken", "failed: ZeroDivisionError"), ("misshapen", "of shape")):
        model = convpaint.ConvpaintModel("patch4", upsampler=name, n_estimators=2, workers=1)
        with pytest.raises(convpaint.UpsamplerError, match=pattern) as info:
            model.train(image, scribbles)
        assert who.format(name) in str(info.value)
