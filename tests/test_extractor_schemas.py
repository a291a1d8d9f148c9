"""Every installed extractor declares its options; get_options() is derived from them and
gives what it gave before the schemas (model files keep their options and fingerprints)."""

import warnings

import pytest

import convpaint
from convpaint.extractor import declaration_problems, declared_options
from convpaint.options import defaults, schema_problems, validate
from convpaint.registry import get_registry

#: get_options() of each built-in extractor at its defaults (weights="random" where it has
#: weights), exactly as written into model files before the schemas existed
BEFORE = {
    "raw": {},
    "ilastik": {
        "filters": [
            "gaussian",
            "laplacian_of_gaussian",
            "gaussian_gradient_magnitude",
            "difference_of_gaussians",
            "structure_tensor_eigenvalues",
            "hessian_of_gaussian_eigenvalues",
        ],
        "sigmas": [0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0],
        "backend": "auto",
    },
    "vgg16": {"layers": [0], "weights": "random"},
    "dinov2": {"size": "small", "weights": "random"},
    "dinov3": {"model": "vit_small_plus_patch16_dinov3.lvd1689m", "weights": "random"},
    "uni": {"weights": "random"},
    "cellpose": {"weights": "random", "features": "both", "precision": "float32"},
    "efficientnet": {"layers": [0, 1, 2], "weights": "random"},
    "convnext": {"layers": [0], "weights": "random"},
    "sobel": {"sigma": 2, "gradients": True, "mode": "reflect"},
}
INSTALLED = [n for n in BEFORE if n in convpaint.list_extractors()]


def build(name):
    schema = declared_options(get_registry().spec(name).factory)
    options = {"weights": "random"} if any(o.name == "weights" for o in schema) else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # random weights say so
        return convpaint.get_extractor(name, **options)


@pytest.mark.parametrize("name", INSTALLED)
def test_builtin_schema_is_declared_and_valid(name):
    factory = get_registry().spec(name).factory
    schema = declared_options(factory)
    assert schema is not None, f"{name} declares no options"
    assert schema_problems(schema) == []
    names = [o.name for o in schema]
    assert factory.supports_device == ("device" in names)
    assert all(not o.stored for o in schema if o.name in ("device", "download"))


@pytest.mark.parametrize("name", INSTALLED)
def test_get_options_is_unchanged_and_round_trips(name):
    ex = build(name)
    assert declaration_problems(ex) == []
    options = ex.get_options()
    assert options == BEFORE[name] and list(options) == list(BEFORE[name])
    assert validate(ex.options, options) == options  # what is stored is valid input
    stored = {k: v for k, v in defaults(ex.options).items() if k in options}
    assert {**stored, **({"weights": "random"} if "weights" in stored else {})} == options


def test_sobel_model_file_keeps_options_and_fingerprint(tmp_path, blobs):
    image, _, scribbles = blobs
    model = convpaint.ConvpaintModel("sobel", sigma=3, gradients=False, n_estimators=5)
    model.train(image, scribbles)
    model.save(tmp_path / "m.npz")
    loaded = convpaint.load_model(tmp_path / "m.npz")
    assert loaded.extractor.get_options() == {"sigma": 3, "gradients": False, "mode": "reflect"}
    assert loaded.fingerprint() == model.fingerprint()
    assert (loaded.segment(image) == model.segment(image)).all()
