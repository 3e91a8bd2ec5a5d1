"""The regression baseline (gravsep.evaluation.regression) against closed forms."""

import h5py
import numpy as np
import pytest
from gravsep.evaluation import baselines, regression
from gravsep.formats.samples import Samples
from gravsep.harmonics.grids import lat_lon
from gravsep.network.features import year_fraction, year_ramp
from test_baselines import DIM, subspace_cubes, weighted_basis, write_windows

YEARS = [2000, 2001, 2002, 2003]


def dataset(tmp_path, cubes, train=(2000, 2001), validation=(2002,), test=(2003,)):
    path = tmp_path / "samples.h5"
    write_windows(path, cubes, train=list(train))
    with h5py.File(path, "a") as f:
        f.attrs["validation_years"] = list(validation)
        f.attrs["test_years"] = list(test)
    return path


def windows(cube):
    """``(C, lat, lon, t)`` -> ``(C, t, P)`` float64."""
    return np.moveaxis(np.asarray(cube, dtype=np.float64), -1, -3).reshape(
        cube.shape[0], cube.shape[-1], -1
    )


def file_windows(path, train=(2000, 2001), test=2003):
    """The windows as the file gives them back (time resampled twice): training inputs
    ``(N, P)`` and targets ``(C, N, P)``, the test year's input cube, pixel weights ``(P,)``."""
    with Samples(path) as s:
        inputs = {year: s.cube(year, "input") for year in (*train, test)}
        targets = {year: s.cube(year, "target") for year in train}
    x = np.concatenate([windows(inputs[y][None])[0] for y in train])
    y = np.concatenate([windows(targets[y]) for y in train], axis=1)
    return x, y, inputs[test], baselines._pixel_weights(lat_lon(DIM)[0], DIM)


def test_dual_form_equals_the_primal_ridge(tmp_path):
    """The kernel form's prediction equals (X^T X + lambda I)^-1 X^T Y of the centred,
    area-weighted training windows, for the alpha chosen, to float precision."""
    basis = weighted_basis(9, seed=2)
    cubes = subspace_cubes([basis[0:3], basis[3:6], basis[6:9]], YEARS)
    rng = np.random.default_rng(4)
    for cube in cubes.values():  # a component that is not a linear function of the sum
        cube[2] += 0.3 * rng.standard_normal(cube.shape[1:]).astype(np.float32)
    path = dataset(tmp_path, cubes)
    stats = baselines.training_statistics(path, regression=True)
    assert np.isfinite(stats["reg_alpha"]).any()
    # primal ridge from the windows as the file gives them back
    x, y, test_input, w = file_windows(path)
    xm, ym = x.mean(axis=0), y.mean(axis=1)
    f = (x - xm) * np.sqrt(w)
    xt = (windows(test_input[None])[0] - xm) * np.sqrt(w)
    got = windows(regression.regression(test_input, stats))
    for c, alpha in enumerate(stats["reg_alpha"]):
        if not np.isfinite(alpha):
            np.testing.assert_allclose(got[c], np.broadcast_to(ym[c], got[c].shape), atol=1e-6)
            continue
        lam = alpha * np.trace(f @ f.T) / len(f)
        wc = np.linalg.solve(f.T @ f + lam * np.eye(f.shape[1]), f.T @ (y[c] - ym[c]))
        np.testing.assert_allclose(got[c], xt @ wc + ym[c], rtol=2e-4, atol=2e-6)


def test_separates_fixed_patterns_exactly(tmp_path):
    """Components made of fixed, linearly independent patterns (the synthetic model's kind)
    are separated in a year the fit has not seen, to the storage precision."""
    basis = weighted_basis(6, seed=3)
    cubes = subspace_cubes([basis[0:2], basis[2:4], basis[4:6]], YEARS)
    path = dataset(tmp_path, cubes)
    stats = baselines.training_statistics(path, regression=True)
    assert (stats["reg_alpha"] == regression.ALPHAS[0]).all()
    test = cubes[2003]
    pred = regression.regression(test.sum(axis=0), stats)
    err = np.sqrt(((pred - test) ** 2).sum() / (test**2).sum())
    assert err < 1e-3, err


def test_unpredictable_component_falls_back_to_the_mean(tmp_path):
    """A component independent of the sum's other patterns and drowned by them: every
    regularisation does worse than the training mean on the validation year, so the
    mean is predicted (alpha inf)."""
    basis = weighted_basis(4, seed=7)
    cubes = subspace_cubes([basis[0:2], basis[2:4], basis[0:2]], YEARS)
    rng = np.random.default_rng(1)
    for cube in cubes.values():  # component 2: tiny, of random patterns every window
        cube[2] = 1e-3 * rng.standard_normal(cube.shape[1:]).astype(np.float32)
    path = dataset(tmp_path, cubes)
    stats = regression.regression_statistics(path)
    assert np.isinf(stats["reg_alpha"][2]) and np.isfinite(stats["reg_alpha"][:2]).all()
    assert (stats["reg_validation"][2] >= 1).all()
    assert not stats["reg_coef"][2].any()


def test_no_validation_years_use_the_default_alpha(tmp_path):
    basis = weighted_basis(6, seed=3)
    cubes = subspace_cubes([basis[0:2], basis[2:4], basis[4:6]], YEARS[:3])
    path = dataset(tmp_path, cubes, validation=(), test=(2002,))
    stats = regression.regression_statistics(path)
    assert (stats["reg_alpha"] == regression.DEFAULT_ALPHA).all()
    assert np.isnan(stats["reg_validation"]).all()


def test_refuses_other_grid_and_missing_fit(tmp_path):
    basis = weighted_basis(6, seed=3)
    cubes = subspace_cubes([basis[0:2], basis[2:4], basis[4:6]], YEARS)
    stats = regression.regression_statistics(dataset(tmp_path, cubes))
    with pytest.raises(ValueError, match="fitted on a"):
        regression.regression(np.zeros((4, 4, 3)), stats)
    with pytest.raises(KeyError, match="regression=True"):
        regression.regression(np.zeros((DIM, DIM, 3)), {"components": ["a"]})


def add_times(path, years, numt=12):
    """Window mid-epochs: ``numt`` equal windows per year (their middles)."""
    with h5py.File(path, "a") as f:
        for year in years:
            start = np.datetime64(f"{year}-01-01", "s").astype(np.int64)
            end = np.datetime64(f"{year + 1}-01-01", "s").astype(np.int64)
            f[f"years/{year}/time"] = start + (np.arange(numt) + 0.5) * (end - start) // numt


def ramps(path, year):
    with Samples(path) as s:
        return year_ramp(year_fraction(s.time(year), year))


def trend_cubes(amplitude, seed=8):
    """Fixed patterns as before, and in component 2 a pattern times the year ramp (a secular
    trend with each year's mean removed) of ``amplitude`` beside them."""
    basis = weighted_basis(7, seed=seed)
    cubes = subspace_cubes([basis[0:2], basis[2:4], basis[4:6]], YEARS)
    r = 2 * (np.arange(12) + 0.5) / 12 - 1
    for cube in cubes.values():
        cube[2] += amplitude * (basis[6].reshape(DIM, DIM)[:, :, None] * r).astype(np.float32)
    return cubes


def test_year_ramp_term_is_the_unpenalised_least_squares(tmp_path):
    """With ramp=True the prediction equals the block normal equations' solution of the
    centred, area-weighted windows and the centred ramp, the ramp's slope not penalised:
    [[F^T F + lambda I, F^T r], [r^T F, r^T r]] [W; b] = [F^T Y; r^T Y]."""
    cubes = trend_cubes(0.5)
    rng = np.random.default_rng(3)
    for cube in cubes.values():  # not exactly linear, so the regularisation matters
        cube[1] += 0.2 * rng.standard_normal(cube.shape[1:]).astype(np.float32)
    path = dataset(tmp_path, cubes)
    add_times(path, YEARS)
    stats = regression.regression_statistics(path, ramp=True)
    assert stats["reg_validation"].shape == (3, len(regression.ALPHAS) + 1)
    x, y, test_input, w = file_windows(path)
    r = np.concatenate([ramps(path, y) for y in (2000, 2001)])
    xm, ym, rm = x.mean(axis=0), y.mean(axis=1), r.mean()
    f, rc = (x - xm) * np.sqrt(w), r - rm
    # lambda from the Gram matrix of what the ramp leaves of the windows, as the dual form
    f_left = f - np.outer(rc, rc @ f / (rc @ rc))
    lam_unit = np.trace(f_left @ f_left.T) / len(f)
    xt = (windows(test_input[None])[0] - xm) * np.sqrt(w)
    rt = ramps(path, 2003) - rm
    got = windows(regression.regression(test_input, stats, ramp=ramps(path, 2003)))
    for c, alpha in enumerate(stats["reg_alpha"]):
        lam = alpha * lam_unit if np.isfinite(alpha) else None
        if lam is None:  # the ramp alone
            b = rc @ (y[c] - ym[c]) / (rc @ rc)
            expected = np.outer(rt, b) + ym[c]
        else:
            p = f.shape[1]
            a = np.block([[f.T @ f + lam * np.eye(p), (f.T @ rc)[:, None]],
                          [(rc @ f)[None, :], np.array([[rc @ rc]])]])  # fmt: skip
            rhs = np.vstack([f.T @ (y[c] - ym[c]), (rc @ (y[c] - ym[c]))[None, :]])
            sol = np.linalg.solve(a, rhs)
            expected = xt @ sol[:p] + np.outer(rt, sol[p]) + ym[c]
        np.testing.assert_allclose(got[c], expected, rtol=2e-4, atol=2e-5)


def test_year_ramp_recovers_a_drowned_trend(tmp_path):
    """A trend pattern a thousandth of the other patterns: the map-only fit, regularised for
    them, recovers an unseen year's trend to a relative error of ~0.4; with the ramp to ~2e-3."""
    amplitude = 1e-3
    cubes = trend_cubes(amplitude)
    path = dataset(tmp_path, cubes)
    add_times(path, YEARS)
    basis = weighted_basis(7, seed=8)
    trend = amplitude * basis[6].reshape(DIM, DIM)[:, :, None] * ramps(path, 2003)
    errors = {}
    for ramp in (False, True):
        stats = regression.regression_statistics(path, ramp=ramp)
        pred = regression.regression(cubes[2003].sum(axis=0), stats,
                                     ramp=ramps(path, 2003) if ramp else None)  # fmt: skip
        fit = cubes[2003][2] - trend  # the component without its trend: what the map can give
        errors[ramp] = np.sqrt(((pred[2] - fit - trend) ** 2).sum() / (trend**2).sum())
    assert errors[True] < 0.01 and errors[False] > 20 * errors[True], errors
    with pytest.raises(ValueError, match="year ramp"):
        regression.regression(cubes[2003].sum(axis=0), stats)
