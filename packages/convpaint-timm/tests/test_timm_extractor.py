from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from timm_testutils import random_extractor, random_plane, tiling_error, without_se

import convpaint
from convpaint_timm import ConvNeXtTinyFeatures, EfficientNetB0Features
from convpaint_timm.network import (
    CONVNEXT_TINY,
    EFFICIENTNET_B0,
    build_trunk,
    halo,
    stage_reaches,
)


def test_class_attributes():
    for cls, name in ((EfficientNetB0Features, "efficientnet"), (ConvNeXtTinyFeatures, "convnext")):
        assert cls.name == name and issubclass(cls, convpaint.FeatureExtractor)
        assert (cls.n_input_channels, cls.rgb, cls.patch_size) == (3, True, 1)
    assert EfficientNetB0Features.default_scalings == (1, 2)
    assert EfficientNetB0Features.tile_size == 1024  # squeeze-excitation: large tiles
    assert ConvNeXtTinyFeatures.default_scalings == (1, 2)


@pytest.mark.parametrize(
    ("name", "layers", "n_features", "padding", "alignment"),
    [("efficientnet", [0, 1, 2], 80, 48, 8), ("convnext", [0], 96, 44, 4)],  # defaults
)
def test_geometry(name, layers, n_features, padding, alignment):
    ex = random_extractor(name)  # the defaults
    assert ex.layers == layers
    assert (ex.n_features, ex.padding, ex.alignment) == (n_features, padding, alignment)
    assert not ex.deterministic


@pytest.mark.parametrize(
    ("arch", "halos"),
    [(EFFICIENTNET_B0, [6, 16, 48, 192, 480]), (CONVNEXT_TINY, [44, 120, 576, 896])],
)
def test_halo_per_stage(arch, halos):
    # receptive field plus bilinear reach, rounded up to the stage's stride
    trunk = build_trunk(arch, range(len(arch.channels)))  # meta device: nothing allocated
    reaches = stage_reaches(trunk)
    assert [s for _, _, s in reaches] == list(arch.reductions) == trunk.feature_info.reduction()
    assert list(arch.channels) == trunk.feature_info.channels()
    assert [halo([r]) for r in reaches] == halos
    assert halo(reaches) == halos[-1]
    assert reaches[0][:2] == ((-3, 3) if arch is EFFICIENTNET_B0 else (-36, 39))  # by hand


def test_defaults_and_options():
    eff, cnx = random_extractor("efficientnet"), random_extractor("convnext")
    assert eff.get_options() == {"layers": [0, 1, 2], "weights": "random"}
    assert cnx.get_options() == {"layers": [0], "weights": "random"}
    assert convpaint.registry.get_registry().spec("convnext").distribution == "convpaint-timm"


def test_only_used_stages_are_built():
    small, deep = (
        random_extractor("efficientnet", layers=[0]),
        random_extractor("efficientnet", layers=[1]),
    )
    assert len(small._trunk.blocks) == 1 and len(deep._trunk.blocks) == 2
    assert small.n_parameters < deep.n_parameters < 30_000
    assert random_extractor("convnext", layers=[0]).n_parameters == 242_784
    assert not any(
        n.startswith("stages_1")
        for n, _ in random_extractor("convnext", layers=[0])._trunk.named_parameters()
    )


@pytest.mark.parametrize(("name", "layers"), [("efficientnet", [0, 2, 3]), ("convnext", [0, 1])])
def test_shapes_odd_size(name, layers):
    ex = random_extractor(name, layers=layers)
    out = ex.extract(random_plane(37, 53))
    assert out.shape == (ex.n_features, 37, 53) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.std() > 0


@pytest.mark.parametrize("name", ["efficientnet", "convnext"])
def test_tiny_plane(name):
    ex = random_extractor(name, layers=[0, 1])
    assert ex.extract(random_plane(1, 3)).shape == (ex.n_features, 1, 3)


def test_layers_independent_and_repeatable():
    # stage 0 of [0, 1] equals stage 0 alone, except within the halo of the bottom/right
    # border, where the zero padding to a multiple of 8 (not 4) reaches it
    plane = random_plane(100, 92, seed=2)
    both = random_extractor("convnext", layers=[0, 1]).extract(plane)
    alone = random_extractor("convnext", layers=[0])
    inner = np.s_[:, : 100 - alone.padding, : 92 - alone.padding]
    np.testing.assert_allclose(both[:96][inner], alone.extract(plane)[inner], rtol=0, atol=1e-5)
    ex = random_extractor("efficientnet", layers=[0, 1])
    assert np.array_equal(ex.extract(plane), ex.extract(plane.copy()))


def test_tiling_convnext():
    ex = random_extractor("convnext", layers=[0])
    plane = random_plane(3 * ex.padding + 20, 3 * ex.padding + 28)
    assert tiling_error(ex, plane, ex.padding, n=4) <= 1e-6
    # the next smaller aligned halo is not enough: padding is not overestimated
    assert tiling_error(ex, plane, ex.padding - ex.alignment, n=3) > 1e-5


@pytest.mark.slow  # ~8 s on 2 loaded cores
def test_tiling_convnext_two_stages():
    ex = random_extractor("convnext", layers=[0, 1])
    plane = random_plane(3 * ex.padding + 8, 3 * ex.padding + 16, seed=1)
    assert tiling_error(ex, plane, ex.padding, n=2) <= 1e-6


@pytest.mark.parametrize("layers", [[0], [0, 1, 2]])
def test_tiling_efficientnet_convolutions(layers):
    # the convolutional path has exactly the declared halo (squeeze-excitation removed) ...
    ex = without_se(random_extractor("efficientnet", layers=layers))
    plane = random_plane(3 * ex.padding + 20, 3 * ex.padding + 24)
    assert tiling_error(ex, plane, ex.padding, n=3) <= 1e-6
    assert tiling_error(ex, plane, ex.padding - ex.alignment, n=3) > 1e-5


def test_efficientnet_se_is_global():
    # ... but squeeze-excitation averages over the whole plane: tiles differ (README)
    ex = random_extractor("efficientnet", layers=[0])
    plane = random_plane(3 * ex.padding + 20, 3 * ex.padding + 24)
    assert tiling_error(ex, plane, ex.padding, n=3) > 1e-3


def test_random_weights_warn_and_are_seeded():
    import torch

    from convpaint_timm.extractor import _cached_trunk

    with pytest.warns(UserWarning, match="random"):
        a = EfficientNetB0Features(weights="random", layers=[0, 1])
    _cached_trunk.cache_clear()  # a freshly built network, not the shared one
    b = random_extractor("efficientnet", layers=[0, 1])
    assert a._trunk is not b._trunk
    pairs = zip(a._trunk.state_dict().items(), b._trunk.state_dict().items(), strict=True)
    assert all(ka == kb and torch.equal(va, vb) for (ka, va), (kb, vb) in pairs)
    plane = random_plane(30, 31, seed=3)
    assert np.array_equal(a.extract(plane), b.extract(plane))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layers": [5]}, ValueError, "valid stages: 0, 1, 2, 3, 4"),
        ({"layers": []}, ValueError, "empty"),
        ({"layers": [0, 0]}, ValueError, "twice"),
        ({"layers": "0"}, ValueError, "integers"),
        ({"layers": [True]}, ValueError, "not an integer"),
        ({"device": "gpu0"}, ValueError, "invalid device"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        random_extractor("efficientnet", **kwargs)


def test_bad_weights_type_and_plane():
    with pytest.raises(TypeError, match="weights"):
        ConvNeXtTinyFeatures(weights=3)
    ex = random_extractor("convnext", layers=[0])
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        ex.extract(np.zeros((1, 8, 8), np.float32))


def test_cuda_unavailable_is_clear():
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="CUDA is not available"):
        random_extractor("convnext", device="cuda")
    assert "device" not in random_extractor("convnext", device="cpu").get_options()


@pytest.mark.parametrize("name", ["efficientnet", "convnext"])
def test_train_segment_save_load(name, tmp_path):
    rng = np.random.default_rng(0)
    image = rng.random((48, 40), dtype=np.float32)
    image[:, 20:] += 2.0
    labels = np.zeros(image.shape, np.uint8)
    labels[5:40, 3:8], labels[5:40, 30:36] = 1, 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = convpaint.ConvpaintModel(name, weights="random", layers=[0], n_estimators=5)
        model.train(image, labels)
        result = model.segment(image)
        path = model.save(tmp_path / "m.npz")
        loaded = convpaint.load_model(path)
    assert result.shape == image.shape and set(np.unique(result)) <= {1, 2}
    assert json.loads(json.dumps(loaded.extractor.get_options())) == {
        "layers": [0],
        "weights": "random",
    }
    assert np.array_equal(loaded.segment(image), result)
