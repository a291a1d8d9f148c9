"""The scipy filter bank against closed-form answers."""

from __future__ import annotations

import numpy as np
import pytest

from convpaint_ilastik import IlastikFilters
from convpaint_ilastik.filters import eigenvalues, filter_bank
from convpaint_ilastik.kernels import gaussian_kernel, kernel_radius


@pytest.mark.parametrize("sigma", [0.3, 1.0, 3.5, 10.0])
def test_kernel_moments(sigma: float) -> None:
    r = kernel_radius(sigma, 0)
    x = np.arange(-r, r + 1)
    k0, k1, k2 = (gaussian_kernel(sigma, o) for o in range(3))
    assert len(k1) == 2 * kernel_radius(sigma, 1) + 1
    assert k0.sum() == pytest.approx(1, abs=1e-6)
    x1 = np.arange(len(k1)) - len(k1) // 2
    x2 = np.arange(len(k2)) - len(k2) // 2
    assert (k1 * x1).sum() == pytest.approx(1, abs=1e-6)  # derivative of x is 1
    assert k1.sum() == pytest.approx(0, abs=1e-7)
    assert (k2 * x2**2 / 2).sum() == pytest.approx(1, abs=1e-6)
    assert k2.sum() == pytest.approx(0, abs=1e-6)
    assert np.all(k0[r:] > 0)
    if sigma >= 1:  # tiny kernels are too coarsely sampled to have variance sigma^2
        assert (k0 * x**2).sum() == pytest.approx(sigma**2, rel=0.03)  # 3-sigma truncation


def _named(x: np.ndarray, filters: tuple[str, ...], sigma: float) -> dict[str, np.ndarray]:
    return {f: out for f, _, out in filter_bank(x, filters, (sigma,))}


def test_quadratic_2d() -> None:
    """f = a y^2 + b xy + c x^2 + linear: exact Hessian, Laplacian and gradient."""
    a, b, c = 0.5, 0.3, -0.2
    y, x = np.mgrid[-40:41, -40:41].astype(np.float64)
    f = (a * y**2 + b * x * y + c * x**2 + 0.1 * x - 0.4 * y).astype(np.float32)
    out = _named(f, ("laplacian_of_gaussian", "hessian_of_gaussian_eigenvalues"), 1.6)
    mid = (slice(None), slice(30, 51), slice(30, 51))
    assert np.allclose(out["laplacian_of_gaussian"][mid], 2 * a + 2 * c, atol=1e-3)
    expected = np.linalg.eigvalsh(np.array([[2 * a, b], [b, 2 * c]]))[::-1]
    hoge = out["hessian_of_gaussian_eigenvalues"][mid]
    assert np.allclose(hoge, expected[:, None, None], atol=1e-3)


@pytest.mark.parametrize("ndim", [2, 3])
def test_ramp(ndim: int) -> None:
    """Linear ramp: gradient magnitude |g|, structure tensor eigenvalues |g|^2, 0, ..."""
    g = np.array([0.3, -0.4, 0.2][:ndim])
    grid = np.indices((25,) * ndim).astype(np.float64)
    f = np.tensordot(g, grid, axes=1).astype(np.float32)
    filters = ("gaussian", "gaussian_gradient_magnitude", "structure_tensor_eigenvalues")
    out = _named(f, filters, 1.0)
    mid = (slice(None),) + (slice(8, 17),) * ndim
    norm = np.linalg.norm(g)
    assert np.allclose(out["gaussian"][mid], f[mid[1:]], atol=1e-4)
    assert np.allclose(out["gaussian_gradient_magnitude"][mid], norm, atol=1e-4)
    st = out["structure_tensor_eigenvalues"][mid]
    assert st.shape[0] == ndim
    assert np.allclose(st[0], norm**2, atol=1e-4) and np.allclose(st[1:], 0, atol=1e-4)


def test_difference_of_gaussians_is_g_minus_g066(plane: np.ndarray) -> None:
    x = plane[0]
    ((_, _, dog),) = filter_bank(x, ("difference_of_gaussians",), (3.5,))
    ((_, _, g1),) = filter_bank(x, ("gaussian",), (3.5,))
    ((_, _, g2),) = filter_bank(x, ("gaussian",), (0.66 * 3.5,))
    assert np.array_equal(dog, g1 - g2)


def test_eigenvalues_3d_match_numpy() -> None:
    rng = np.random.default_rng(1)
    m = rng.standard_normal((3, 3, 4, 5))
    m = m + m.transpose(1, 0, 2, 3)
    t = {(i, j): m[i, j].astype(np.float32) for i in range(3) for j in range(i, 3)}
    ev = eigenvalues(t, 3)
    ref = np.linalg.eigvalsh(np.moveaxis(m, (0, 1), (-2, -1)))[..., ::-1]
    assert ev.shape == (3, 4, 5) and ev.dtype == np.float32
    assert np.allclose(np.moveaxis(ev, 0, -1), ref, atol=1e-5)
    assert np.all(np.diff(ev, axis=0) <= 0)


@pytest.mark.parametrize("backend", ["auto", "scipy"])
def test_extract_shapes_dtype_channels(plane: np.ndarray, backend: str) -> None:
    ex = IlastikFilters(backend=backend)
    out = ex.extract(plane)
    assert out.shape == (56, *plane.shape[1:]) and out.dtype == np.float32
    assert np.isfinite(out).all()
    two = ex.extract(np.concatenate([plane, 2 * plane]))
    assert two.shape == (112, *plane.shape[1:])
    assert np.array_equal(two[:56], out)
    # every filter is 1-homogeneous except the structure tensor, which is quadratic
    st = np.array([n.startswith("structure") for n in ex.feature_names])
    assert np.allclose(two[56:][~st], 2 * out[~st], rtol=1e-5, atol=1e-5)
    assert np.allclose(two[56:][st], 4 * out[st], rtol=1e-4, atol=1e-5)


def test_extract_volume_shapes() -> None:
    rng = np.random.default_rng(2)
    vol = rng.random((1, 3, 10, 12), dtype=np.float32)
    out = IlastikFilters().extract_volume(vol)
    assert out.shape == (70, 3, 10, 12) and out.dtype == np.float32
    assert np.isfinite(out).all()
    ex = IlastikFilters(filters=["hessian_of_gaussian_eigenvalues"], sigmas=[1.0, 2.0])
    out = ex.extract_volume(np.concatenate([vol, vol]))
    assert out.shape == (12, 3, 10, 12)
    assert np.all(np.diff(out[:3], axis=0) <= 0)  # descending eigenvalues


def test_volume_of_constant_slices_matches_plane(plane: np.ndarray) -> None:
    """A volume whose slices are all equal has the 2-D features (plus zero Z terms)."""
    ex = IlastikFilters(filters=["gaussian", "laplacian_of_gaussian"], sigmas=[1.0, 1.6])
    vol = np.repeat(plane[:, None], 5, axis=1)
    out3 = ex.extract_volume(vol)
    out2 = IlastikFilters(**{**ex.get_options(), "backend": "scipy"}).extract(plane)
    assert np.allclose(out3[:, 2], out2, atol=1e-5)
