"""Science units against closed forms and independent computations."""

import numpy as np
import pytest
from gravsep.constants import R_EARTH, RHO_EARTH, RHO_WATER
from gravsep.dataset import sampling
from gravsep.harmonics import filtering, grids, units


# --- equivalent water height -------------------------------------------------------------
def test_love_numbers_interpolate_linearly_between_table_entries():
    k = units.load_love_numbers(200)
    assert k[2] == -0.303 and k[10] == -0.069 and k[200] == -0.007
    assert k[11] == pytest.approx((-0.069 + -0.064) / 2, abs=1e-15)
    assert k[13] == pytest.approx(-0.064 + (13 - 12) / 3 * (-0.058 + 0.064), abs=1e-15)
    assert k[160] == pytest.approx(-0.010 + 10 / 50 * 0.003, abs=1e-15)
    with pytest.raises(ValueError, match="200"):
        units.load_love_numbers(201)


def test_ewh_factor_closed_form():
    f = units.ewh_factors(3)
    scale = R_EARTH * RHO_EARTH / (3 * RHO_WATER)
    assert f[0] == pytest.approx(scale, rel=1e-15)
    assert f[2] == pytest.approx(5 / (1 - 0.303) * scale, rel=1e-15)
    assert f[3] == pytest.approx(7 / (1 - 0.194) * scale, rel=1e-15)


def test_ewh_round_trip_and_broadcast():
    rng = np.random.default_rng(1)
    cs = rng.normal(size=(3, 2, 11, 11)) * 1e-10
    ewh = units.stokes_to_ewh(cs)
    assert ewh.shape == cs.shape
    np.testing.assert_allclose(units.ewh_to_stokes(ewh), cs, rtol=1e-14, atol=0)
    n = 7
    assert ewh[1, 0, n, 3] == pytest.approx(cs[1, 0, n, 3] * units.ewh_factors(10)[n], rel=1e-15)


# --- Gaussian filter -----------------------------------------------------------------------
def _gaussian_by_quadrature(nmax, radius_km):
    """W_n = int W(x) P_n(x) dx / int W(x) dx, W(x) = exp(-b (1 - x)), by Gauss-Legendre."""
    b = np.log(2.0) / (1.0 - np.cos(radius_km / (R_EARTH / 1000.0)))
    x, w = np.polynomial.legendre.leggauss(400)
    kernel = np.exp(-b * (1.0 - x))
    out = []
    for n in range(nmax + 1):
        coef = np.zeros(n + 1)
        coef[n] = 1.0
        out.append(np.sum(w * kernel * np.polynomial.legendre.legval(x, coef)))
    out = np.array(out)
    return out / out[0]


def test_gaussian_weights_equal_the_kernel_expansion():
    w = filtering.gaussian_weights(30, 500.0)
    # the upward recursion amplifies rounding (~1e-11 by degree 30 at this radius)
    np.testing.assert_allclose(w, _gaussian_by_quadrature(30, 500.0), rtol=0, atol=1e-10)


def test_gaussian_weights_cut_where_the_recursion_breaks_down():
    w = filtering.gaussian_weights(180, 100.0)  # small radius: recursion unstable at high n
    assert w[0] == 1.0
    assert np.all(w >= 0) and np.all(np.diff(w) <= 0)
    ok = w > 0
    zero_from = np.flatnonzero(~ok)
    if zero_from.size:
        assert not ok[zero_from[0] :].any()
    # where it is kept, it matches the kernel
    k = int(ok.sum()) if not zero_from.size else int(zero_from[0])
    ref = _gaussian_by_quadrature(min(k - 1, 60), 100.0)
    np.testing.assert_allclose(w[: len(ref)], ref, atol=1e-9)
    assert filtering.half_width_km(100) == 100.0


def test_apply_weights_scales_each_degree():
    cs = np.ones((2, 5, 5))
    out = filtering.apply_weights(cs, np.arange(5.0))
    assert np.all(out[:, 3, :] == 3.0) and np.all(out[:, 0, :] == 0.0)


# --- grids ---------------------------------------------------------------------------------
def test_grid_size_and_axes():
    assert grids.grid_size(180) == 512 and grids.grid_size(31) == 64 and grids.grid_size(32) == 128
    lat, lon = grids.lat_lon(8)
    np.testing.assert_allclose(lat, 90 - 22.5 * np.arange(8))
    np.testing.assert_allclose(lon, 45.0 * np.arange(8))
    w = grids.area_weights(lat)
    assert w.sum() == pytest.approx(1.0) and w[0] < 1e-16 and w[4] == w.max()


def test_synthesis_matches_closed_form_harmonics():
    dim = 32
    lat, lon = np.deg2rad(grids.lat_lon(dim)[0]), np.deg2rad(grids.lat_lon(dim)[1])
    cs = np.zeros((2, 4, 4))
    cs[0, 0, 0] = 2.0  # Y00 = 1 (4-pi normalised)
    np.testing.assert_allclose(grids.synthesize(cs, dim), 2.0, atol=1e-13)
    cs[:] = 0
    cs[0, 1, 0] = 1.0  # sqrt(3) sin(lat)
    np.testing.assert_allclose(
        grids.synthesize(cs, dim), np.sqrt(3) * np.sin(lat)[:, None] * np.ones(dim), atol=1e-13
    )
    cs[:] = 0
    cs[1, 1, 1] = 1.0  # sqrt(3) cos(lat) sin(lon)
    np.testing.assert_allclose(
        grids.synthesize(cs, dim), np.sqrt(3) * np.outer(np.cos(lat), np.sin(lon)), atol=1e-13
    )


def test_synthesis_analysis_round_trip():
    rng = np.random.default_rng(3)
    nmax = 15
    cs = np.tril(rng.normal(size=(2, 3, nmax + 1, nmax + 1)).transpose(1, 0, 2, 3))
    cs[:, 1, :, 0] = 0.0  # S_n0 does not exist
    g = grids.synthesize(cs, 32)
    assert g.shape == (3, 32, 32)
    np.testing.assert_allclose(grids.analyze(g, nmax), cs, atol=1e-12)


def test_degree_amplitudes():
    cs = np.zeros((2, 3, 3))
    cs[0, 2, 1], cs[1, 2, 2] = 3.0, 4.0
    np.testing.assert_allclose(grids.degree_amplitudes(cs), [0, 0, 5.0])


# --- sampling ------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["lat_lon", "lat_t", "t_lon"])
def test_sampling_round_trip(how):
    cube = np.random.default_rng(0).normal(size=(3, 4, 5, 6))
    samples = sampling.cube_to_samples(cube, how)
    assert samples.shape[-1] == 3
    np.testing.assert_array_equal(sampling.samples_to_cube(samples, how), cube)
    np.testing.assert_array_equal(
        sampling.samples_to_cube(sampling.cube_to_samples(cube[0], how), how), cube[0]
    )


def test_sampling_index_meaning():
    lat, lon, t = 4, 5, 6
    cube = np.random.default_rng(0).normal(size=(lat, lon, t))
    s = sampling.cube_to_samples(cube, "lat_lon")
    np.testing.assert_array_equal(s[2], cube[:, :, 2])  # a map at time step 2
    s = sampling.cube_to_samples(cube, "lat_t")
    np.testing.assert_array_equal(s[3], cube[:, 3, :])  # lat x t at longitude 3
    s = sampling.cube_to_samples(cube, "t_lon")
    np.testing.assert_array_equal(s[1], cube[1, :, :].T)  # t x lon at latitude 1


def test_resample_time_is_linear_interpolation_over_the_span():
    t = np.arange(52.0)
    cube = np.broadcast_to(3.0 * t - 2.0, (2, 3, 52))
    out = sampling.resample_time(cube, 64)
    pos = np.linspace(0, 51, 64)
    np.testing.assert_allclose(out, np.broadcast_to(3.0 * pos - 2.0, (2, 3, 64)), atol=1e-12)
    back = sampling.resample_time(out, 52)
    np.testing.assert_allclose(back, cube, atol=1e-12)  # linear in t: exact both ways
    wiggly = np.random.default_rng(1).normal(size=(10,))
    np.testing.assert_allclose(
        sampling.resample_time(wiggly, 25), np.interp(np.linspace(0, 9, 25), np.arange(10), wiggly)
    )


def test_random_mixing_inverse():
    g, g_pinv = sampling.random_mixing(8, 16, seed=1)
    np.testing.assert_allclose(g_pinv @ g, np.eye(8), atol=1e-12)
    x = np.random.default_rng(2).normal(size=(8, 4, 4))
    np.testing.assert_allclose(sampling.mix(sampling.mix(x, g), g_pinv), x, atol=1e-12)
