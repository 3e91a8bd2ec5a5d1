"""Metrics against straightforward NumPy loops and closed forms."""

import numpy as np
import pytest
from gravsep.evaluation import metrics
from gravsep.harmonics.grids import lat_lon


def _cube(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _weights(lat):
    w = np.cos(np.deg2rad(lat))
    return w / w.sum()


@pytest.fixture
def lat():
    return lat_lon(8)[0]


def test_constant_field(lat):
    cube = np.full((2, 8, 8, 5), 3.0, dtype=np.float32)
    np.testing.assert_allclose(metrics.rms_along_lat(cube), 3.0)
    np.testing.assert_allclose(metrics.rms_along_lon(cube, lat), 3.0)
    np.testing.assert_allclose(metrics.rms_along_time(cube, lat), 3.0)
    np.testing.assert_allclose(metrics.rms(cube, lat), [3.0, 3.0])
    assert metrics.rms_along_lon(cube, lat).shape == (2, 8)
    assert metrics.rms_along_time(cube, lat).shape == (2, 5)


def test_profiles_match_loops(lat):
    x = _cube((8, 8, 5))
    w = _weights(lat)
    along_lat = [np.sqrt(np.mean(x[i] ** 2)) for i in range(8)]
    along_lon = [np.sqrt(sum(w[i] * np.mean(x[i, j] ** 2) for i in range(8))) for j in range(8)]
    along_t = [np.sqrt(sum(w[i] * np.mean(x[i, :, t] ** 2) for i in range(8))) for t in range(5)]
    total = np.sqrt(sum(w[i] * np.mean(x[i] ** 2) for i in range(8)))
    np.testing.assert_allclose(metrics.rms_along_lat(x), along_lat)
    np.testing.assert_allclose(metrics.rms_along_lon(x, lat), along_lon)
    np.testing.assert_allclose(metrics.rms_along_time(x, lat), along_t)
    np.testing.assert_allclose(metrics.rms(x, lat), total)


def test_area_weighting_matters(lat):
    # one row of ones near the pole against one at the equator: RMS^2 is the row's area share
    polar = np.zeros((8, 8, 3))
    polar[1] = 1.0
    equator = np.zeros((8, 8, 3))
    equator[4] = 1.0
    w = _weights(lat)
    assert metrics.rms(polar, lat) == pytest.approx(np.sqrt(w[1]))
    assert metrics.rms(equator, lat) == pytest.approx(np.sqrt(w[4]))
    assert metrics.rms(polar, lat) < metrics.rms(equator, lat)
    # the pole row itself (lat 90) has no area
    pole = np.zeros((8, 8, 3))
    pole[0] = 1.0
    assert metrics.rms(pole, lat) == pytest.approx(0.0, abs=1e-7)
    np.testing.assert_allclose(metrics.rms_along_lon(pole, lat), 0.0, atol=1e-7)
    # along latitude no weight applies: the polar row's own RMS is 1
    assert metrics.rms_along_lat(polar)[1] == pytest.approx(1.0)


def test_relative_rms_closed_forms(lat):
    truth = _cube((3, 8, 8, 4), seed=1)
    np.testing.assert_allclose(metrics.relative_rms(np.zeros_like(truth), truth, lat), 1.0)
    np.testing.assert_allclose(metrics.relative_rms(truth, truth, lat), 0.0)
    np.testing.assert_allclose(metrics.relative_rms(2 * truth, truth, lat), 1.0)
    np.testing.assert_allclose(metrics.relative_rms(1.5 * truth, truth, lat), 0.5)
    one = metrics.relative_rms(np.zeros((8, 8, 4)), truth[0], lat)
    assert np.ndim(one) == 0 and one == pytest.approx(1.0)
    assert np.isnan(metrics.relative_rms(truth[0], np.zeros((8, 8, 4)), lat))


def test_subsets():
    sets = metrics.subsets(4)
    assert len(sets) == 4 + 6 + 1
    assert sets[:4] == [(0,), (1,), (2,), (3,)]
    assert sets[-1] == (0, 1, 2, 3)
    assert metrics.subset_label((0, 2), ["AO", "H", "I"]) == "AO+I"
    assert metrics.subsets(2) == [(0,), (1,), (0, 1)]


def test_combined_errors_cancel_and_add(lat):
    x = _cube((8, 8, 4), seed=2)
    errors = np.stack([x, -x, x, 0.5 * x])
    sets, values, norm = metrics.combined_errors(errors, lat)
    r = metrics.rms(x, lat)
    got = dict(zip(sets, zip(values, norm, strict=True), strict=True))
    assert got[(0,)] == pytest.approx((r, 1.0))
    assert got[(0, 1)][0] == pytest.approx(0.0, abs=1e-12)  # mis-assignment cancels
    assert got[(0, 1)][1] == pytest.approx(0.0, abs=1e-12)
    assert got[(0, 2)] == pytest.approx((2 * r, 1.0))  # errors add up
    # all four: x - x + x + 0.5x = 1.5x over 3.5 r
    assert got[(0, 1, 2, 3)] == pytest.approx((1.5 * r, 1.5 / 3.5))


def test_combined_errors_match_numpy(lat):
    e = _cube((3, 8, 8, 4), seed=3)
    w = _weights(lat)

    def grms(a):
        return np.sqrt(np.sum(w * np.mean(a**2, axis=(1, 2))))

    sets, values, norm = metrics.combined_errors(e, lat)
    for s, v, q in zip(sets, values, norm, strict=True):
        total = sum(e[i] for i in s)
        assert v == pytest.approx(grms(total))
        assert q == pytest.approx(grms(total) / sum(grms(e[i]) for i in s))


def test_pair_error_matrix(lat):
    e = _cube((3, 8, 8, 4), seed=4)
    m, q = metrics.pair_error_matrix(e, lat)
    assert m.shape == q.shape == (3, 3)
    np.testing.assert_allclose(m, m.T)
    np.testing.assert_allclose(np.diag(m), metrics.rms(e, lat))
    np.testing.assert_allclose(np.diag(q), 1.0)
    assert m[0, 2] == pytest.approx(metrics.rms(e[0] + e[2], lat))
    assert q[0, 1] == pytest.approx(m[0, 1] / (m[0, 0] + m[1, 1]))


def test_latitude_count_checked(lat):
    with pytest.raises(ValueError):
        metrics.rms(np.zeros((6, 8, 2)), lat)
