from __future__ import annotations

import json

import numpy as np
import pytest

from convpaint import FeatureExtractor
from convpaint_ilastik import FILTERS, SIGMAS, IlastikFilters


def test_class_attributes() -> None:
    ex = IlastikFilters()
    assert isinstance(ex, FeatureExtractor)
    assert (ex.name, ex.n_input_channels, ex.rgb, ex.patch_size) == ("ilastik", 1, False, 1)
    assert ex.default_scalings == (1,)
    assert ex.deterministic and ex.supports_volume
    assert ex.description and "\n" not in ex.description


def test_defaults() -> None:
    ex = IlastikFilters()
    assert ex.filters == FILTERS and ex.sigmas == SIGMAS
    assert len(ex.feature_names) == 7 * 8  # 4 scalar filters + 2 eigenvalue pairs per sigma
    assert len(ex.feature_names_for(3)) == 7 * 10
    # structure tensor at sigma 10: ceil(3.5 * 10) + ceil(3 * 5)
    assert ex.padding == 50


@pytest.mark.parametrize(
    ("filters", "sigmas", "n2", "n3", "padding"),
    [
        (["gaussian"], [1.0], 1, 1, 3),
        ("gaussian", 1.0, 1, 1, 3),
        (["difference_of_gaussians"], [5.0], 1, 1, 15),
        (["laplacian_of_gaussian", "gaussian_gradient_magnitude"], [0.7, 1.6], 4, 4, 7),
        (["hessian_of_gaussian_eigenvalues"], [1.0, 3.5, 10.0], 6, 9, 40),
        (["structure_tensor_eigenvalues"], [1.0], 2, 3, 6),
        (["structure_tensor_eigenvalues", "gaussian"], [0.3, 0.3, 2.0], 6, 8, 10),
    ],
)
def test_subsets(filters, sigmas, n2: int, n3: int, padding: int) -> None:
    ex = IlastikFilters(filters=filters, sigmas=sigmas)
    assert len(ex.feature_names) == n2
    assert len(ex.feature_names_for(3)) == n3
    assert ex.padding == padding
    out = ex.extract(np.zeros((1, 9, 11), np.float32))
    assert out.shape == (n2, 9, 11)


def test_feature_order_is_canonical() -> None:
    ex = IlastikFilters(
        filters=["hessian_of_gaussian_eigenvalues", "gaussian"], sigmas=[3.5, 1.0, 3.5]
    )
    assert ex.filters == ("gaussian", "hessian_of_gaussian_eigenvalues")
    assert ex.sigmas == (1.0, 3.5)
    assert ex.feature_names == [
        "gaussian_s1",
        "gaussian_s3.5",
        "hessian_of_gaussian_eigenvalues_s1_ev0",
        "hessian_of_gaussian_eigenvalues_s1_ev1",
        "hessian_of_gaussian_eigenvalues_s3.5_ev0",
        "hessian_of_gaussian_eigenvalues_s3.5_ev1",
    ]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"filters": ["gaussian", "sobel"]}, "allowed: gaussian, laplacian_of_gaussian"),
        ({"filters": []}, "allowed: gaussian"),
        ({"filters": "hessian"}, "'hessian'"),
        ({"sigmas": []}, "sigmas"),
        ({"sigmas": [1.0, 0.0]}, "> 0"),
        ({"sigmas": [-1.0]}, "0.3, 0.7, 1.0"),
        ({"sigmas": [float("nan")]}, "finite"),
        ({"sigmas": ["big"]}, "sigmas"),
        ({"backend": "gpu"}, "allowed: auto, opencv, fastfilters, scipy"),
    ],
)
def test_bad_options(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        IlastikFilters(**options)


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        IlastikFilters(scales=[1.0])


def test_bad_input_shape() -> None:
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        IlastikFilters(sigmas=[1.0]).extract(np.zeros((5, 5), np.float32))
    with pytest.raises(ValueError, match=r"\(C, Z, H, W\)"):
        IlastikFilters(sigmas=[1.0]).extract_volume(np.zeros((1, 5, 5), np.float32))


@pytest.mark.parametrize("backend", ["auto", "scipy"])
def test_get_options_round_trip(plane: np.ndarray, backend: str) -> None:
    ex = IlastikFilters(
        filters=["gaussian", "structure_tensor_eigenvalues"], sigmas=[1.6, 0.7], backend=backend
    )
    options = json.loads(json.dumps(ex.get_options()))
    assert options == {
        "filters": ["gaussian", "structure_tensor_eigenvalues"],
        "sigmas": [0.7, 1.6],
        "backend": backend,
    }
    rebuilt = type(ex)(**options)
    assert rebuilt.feature_names == ex.feature_names and rebuilt.padding == ex.padding
    assert np.array_equal(rebuilt.extract(plane), ex.extract(plane))
    assert repr(ex).startswith("IlastikFilters(filters=")
