"""Calibration scores of Gaussian predictions (gravsep.evaluation.calibration) and ensemble
files (gravsep.formats.predictions): closed forms on Gaussian data, zero spread of identical
members."""

import numpy as np
import pytest
from gravsep.evaluation import calibration
from gravsep.formats.predictions import Predictions, PredictionsWriter, spread
from scipy import integrate, stats

LAT = np.linspace(-80.0, 80.0, 9)


def _gaussian(sigma_true=0.02, sigma_pred=0.02, shape=(9, 16, 400), seed=3):
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 0.1, shape)
    y = mu + rng.normal(0.0, sigma_true, shape)
    return mu, np.full(shape, sigma_pred), y


def _crps_by_integration(mu, s, y):
    """CRPS as its definition: the integral of (F(x) - 1{x >= y})^2 over x."""
    f = stats.norm(mu, s).cdf
    lo, hi = min(mu, y) - 12 * s, max(mu, y) + 12 * s
    below = integrate.quad(lambda x: f(x) ** 2, lo, y, limit=200)[0]
    above = integrate.quad(lambda x: (1.0 - f(x)) ** 2, y, hi, limit=200)[0]
    return below + above


@pytest.mark.parametrize("mu, s, y", [(0.0, 1.0, 0.3), (1.5, 0.2, 0.9), (-2.0, 3.0, 4.0)])
def test_crps_matches_the_closed_form_and_its_definition(mu, s, y):
    z = (y - mu) / s
    closed = s * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
    got = calibration.crps_gaussian(mu, s, y)
    assert got == pytest.approx(closed, rel=1e-12)
    assert got == pytest.approx(_crps_by_integration(mu, s, y), rel=1e-6)


def test_crps_of_a_zero_spread_is_the_absolute_error():
    got = calibration.crps_gaussian(np.array([1.0, 2.0]), np.array([0.0, 0.0]),
                                    np.array([1.5, 1.0]))  # fmt: skip
    np.testing.assert_allclose(got, [0.5, 1.0])


def test_mean_crps_of_a_calibrated_gaussian_is_sigma_over_sqrt_pi():
    mu, sigma, y = _gaussian()
    # E CRPS(N(mu, s), Y) for Y ~ N(mu, s) is s / sqrt(pi)
    assert calibration.crps(mu, sigma, y, LAT) == pytest.approx(0.02 / np.sqrt(np.pi), rel=0.01)


@pytest.mark.parametrize("factor", [0.5, 1.0, 2.0])
def test_coverage_and_spread_skill_match_the_gaussian(factor):
    mu, sigma, y = _gaussian(sigma_pred=0.02 * factor)
    for p in (0.68, 0.95, 0.3):
        # |y - mu| <= z_p * factor * s: probability 2 Phi(z_p factor) - 1
        expected = 2 * stats.norm.cdf(stats.norm.ppf(0.5 + p / 2) * factor) - 1
        assert calibration.coverage(mu, sigma, y, LAT, p) == pytest.approx(expected, abs=0.005)
    assert calibration.spread_skill(mu, sigma, y, LAT) == pytest.approx(factor, rel=0.01)
    assert calibration.variance_scale(mu, sigma, y, LAT) == pytest.approx(1 / factor, rel=0.01)
    scaled = sigma * calibration.variance_scale(mu, sigma, y, LAT)
    assert calibration.spread_skill(mu, scaled, y, LAT) == pytest.approx(1.0, rel=1e-9)
    scores = calibration.scores(mu, scaled, y, LAT)
    assert scores["coverage_68"] == pytest.approx(0.68, abs=0.01)
    assert scores["coverage_95"] == pytest.approx(0.95, abs=0.01)


def test_scores_are_area_weighted():
    mu = np.zeros((3, 4, 10))
    y = np.zeros_like(mu)
    y[0] = 1.0  # errors only in the first row (high latitude, small area)
    sigma = np.zeros_like(mu)
    lat = np.array([80.0, 0.0, -10.0])
    inside = calibration.coverage(mu, sigma, y, lat, 0.68)
    w = np.cos(np.deg2rad(lat))
    assert inside == pytest.approx(1 - w[0] / w.sum())


def test_reliability_is_monotone_and_ends_near_the_nominal():
    mu, sigma, y = _gaussian()
    curve = calibration.reliability(mu, sigma, y, LAT)
    assert np.all(np.diff(curve) >= 0)
    np.testing.assert_allclose(curve, calibration.NOMINAL, atol=0.01)


def _write(path, members):
    s, dim, c = members.shape[1], members.shape[2], members.shape[-1]
    split = {"train_years": [2000], "validation_years": [], "test_years": []}
    with PredictionsWriter(path, components=["A", "B"][:c], sampling="lat_lon", model="e",
                           inference_mode="deterministic", batch_size=2, split=split,
                           ensemble=(len(members), 1)) as w:  # fmt: skip
        w.add_year(2000, s, None, members)
    assert members.shape[-1] == c and dim


def test_spread_of_identical_members_is_zero(tmp_path):
    one = np.random.default_rng(1).normal(size=(5, 4, 4, 2)).astype(np.float32)
    _write(tmp_path / "p.h5", np.stack([one, one, one]))
    with Predictions(tmp_path / "p.h5") as p:
        assert p.is_ensemble and p.members == 3
        assert not np.any(p.spread(2000)[()])
        np.testing.assert_array_equal(p.prediction(2000)[()], one)
    assert not np.any(spread(np.stack([one, one])))


def test_spread_is_the_members_standard_deviation(tmp_path):
    rng = np.random.default_rng(2)
    members = rng.normal(size=(4, 3, 4, 4, 2)).astype(np.float32)
    _write(tmp_path / "p.h5", members)
    with Predictions(tmp_path / "p.h5") as p:
        np.testing.assert_allclose(p.spread(2000)[()], members.std(axis=0, ddof=1), rtol=1e-5)
        np.testing.assert_allclose(p.prediction(2000)[()], members.mean(axis=0), rtol=1e-5,
                                   atol=1e-6)  # fmt: skip
        np.testing.assert_array_equal(p.member_predictions(2000)[()], members)


def test_a_single_model_file_has_no_members(tmp_path):
    split = {"train_years": [2000], "validation_years": [], "test_years": []}
    with PredictionsWriter(
        tmp_path / "p.h5",
        components=["A"],
        sampling="lat_lon",
        model="m",
        inference_mode="deterministic",
        batch_size=2,
        split=split,
    ) as w:
        w.add_year(2000, 3, np.zeros((3, 4, 4, 1), np.float32))
        with pytest.raises(ValueError, match="exactly for an ensemble"):
            w.add_year(2001, 3, None, np.zeros((2, 3, 4, 4, 1), np.float32))
    with Predictions(tmp_path / "p.h5") as p:
        assert not p.is_ensemble and p.members == 1
        with pytest.raises(KeyError, match="not an ensemble"):
            p.spread(2000)


def _heteroscedastic(floor, shape=(9, 16, 400), seed=4):
    """Spreads spanning two decades, errors N(0, spread^2 + floor^2): the calibration is
    ``(scale, floor) = (1, floor)``."""
    rng = np.random.default_rng(seed)
    sigma = 0.01 * np.exp(rng.uniform(np.log(0.1), np.log(10.0), shape))
    mu = rng.normal(0.0, 0.1, shape)
    y = mu + rng.normal(0.0, 1.0, shape) * np.hypot(sigma, floor)
    return mu, sigma, y


def test_the_floor_fit_recovers_a_known_floor():
    mu, sigma, y = _heteroscedastic(floor=0.01)
    scale, floor = calibration.fit_spread(mu, sigma, y, LAT)
    assert scale == pytest.approx(1.0, abs=0.1)
    assert floor == pytest.approx(0.01, rel=0.15)
    fitted = calibration.calibrated(sigma, scale, floor)
    assert calibration.spread_skill(mu, fitted, y, LAT) == pytest.approx(1.0, rel=1e-9)
    assert calibration.coverage(mu, fitted, y, LAT, 0.95) == pytest.approx(0.95, abs=0.003)
    # the factor alone matches the RMS but not the tails: its 95 % interval is off
    alone = sigma * calibration.variance_scale(mu, sigma, y, LAT)
    assert abs(calibration.coverage(mu, alone, y, LAT, 0.95) - 0.95) > 0.02
    assert calibration.fit_spread(mu, sigma, y, LAT, floor=False) == (
        calibration.variance_scale(mu, sigma, y, LAT), 0.0)  # fmt: skip


def test_a_calibrated_spread_needs_next_to_no_floor():
    mu, sigma, y = _heteroscedastic(floor=0.0)
    scale, floor = calibration.fit_spread(mu, sigma, y, LAT)
    rms = np.sqrt(np.mean((y - mu) ** 2))
    assert scale == pytest.approx(1.0, abs=0.03)
    assert floor < 0.1 * rms


def test_a_uniform_spread_takes_no_floor_and_a_zero_spread_only_the_floor():
    mu, sigma, y = _gaussian(sigma_pred=0.05)
    # every floor gives the same uniform calibrated spread: the smallest, 0, is taken
    assert calibration.fit_spread(mu, sigma, y, LAT) == (
        calibration.variance_scale(mu, sigma, y, LAT), 0.0)  # fmt: skip
    scale, floor = calibration.fit_spread(mu, np.zeros_like(sigma), y, LAT)
    fitted = calibration.calibrated(np.zeros_like(sigma), scale, floor)
    assert calibration.spread_skill(mu, fitted, y, LAT) == pytest.approx(1.0, rel=1e-12)
    assert calibration.fit_spread(mu, sigma, mu, LAT) == (1.0, 0.0)  # no error


def test_a_non_finite_value_is_refused():
    mu, sigma, y = _heteroscedastic(floor=0.01)
    y[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="truth holds 1 non-finite"):
        calibration.fit_spread(mu, sigma, y, LAT)
