"""Baselines and the training statistics they use."""

import h5py
import numpy as np
import pytest
from gravsep import baselines
from gravsep.grids import lat_lon
from gravsep.sampling import cube_to_samples, mix, random_mixing

COMPONENTS = ["AO", "H", "I"]


def write_targets(path, cubes, sampling, g=None, g_pinv=None):
    """Minimal dataset file: targets of ``{year: (C, dim, dim, dim) cube}`` as samples."""
    dim = next(iter(cubes.values())).shape[1]
    lat, lon = lat_lon(dim)
    with h5py.File(path, "w") as f:
        f.attrs["components"] = COMPONENTS
        f.attrs["sampling"] = sampling
        f.attrs["dim"] = dim
        f.attrs["train_years"] = sorted(cubes)
        f["lat"], f["lon"] = lat, lon
        if g_pinv is not None:
            f["random/g_pinv"] = g_pinv
        for year, cube in cubes.items():
            target = cube_to_samples(cube, sampling)
            if g is not None:
                target = mix(target, g)
            f[f"years/{year}/target"] = target.astype(np.float32)
            f[f"years/{year}/input"] = target.sum(axis=-1).astype(np.float32)


def weighted_stats(cubes):
    """Area-weighted mean and variance per component, straight from the cubes."""
    x = np.concatenate(list(cubes.values()), axis=-1).astype(np.float64)
    w = np.cos(np.deg2rad(lat_lon(x.shape[1])[0]))
    w = w[None, :, None, None] * np.ones_like(x)
    mean = (w * x).sum(axis=(1, 2, 3)) / w.sum(axis=(1, 2, 3))
    var = (w * (x - mean[:, None, None, None]) ** 2).sum(axis=(1, 2, 3)) / w.sum(axis=(1, 2, 3))
    return mean, var


def _cubes(dim=8, seed=0):
    rng = np.random.default_rng(seed)
    scale = np.array([1.0, 0.5, 2.0])[:, None, None, None]
    return {
        year: (scale * rng.standard_normal((3, dim, dim, dim)) + 0.1).astype(np.float32)
        for year in (2000, 2001)
    }


@pytest.mark.parametrize("sampling", ["lat_lon", "lat_t", "t_lon"])
def test_training_statistics(tmp_path, sampling):
    cubes = _cubes()
    path = tmp_path / "samples.h5"
    write_targets(path, cubes, sampling)
    stats = baselines.training_statistics(path, chunk=3)
    mean, var = weighted_stats(cubes)
    assert stats["components"] == COMPONENTS
    assert stats["years"] == [2000, 2001]
    np.testing.assert_allclose(stats["mean"], mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(stats["variance"], var, rtol=1e-5)
    np.testing.assert_allclose(stats["mean_square"], var + mean**2, rtol=1e-5)
    one = baselines.training_statistics(path, years=[2001])
    np.testing.assert_allclose(one["variance"], weighted_stats({1: cubes[2001]})[1], rtol=1e-5)


def test_training_statistics_unmixes(tmp_path):
    cubes = _cubes()
    g, g_pinv = random_mixing(8, 16, seed=1)
    path = tmp_path / "samples.h5"
    write_targets(path, cubes, "lat_lon", g=g, g_pinv=g_pinv)
    stats = baselines.training_statistics(path)
    np.testing.assert_allclose(stats["variance"], weighted_stats(cubes)[1], rtol=1e-4)


def test_zero():
    stats = {"components": COMPONENTS}
    pred = baselines.zero(np.ones((8, 8, 5)), stats)
    assert pred.shape == (3, 8, 8, 5)
    assert not pred.any()


def test_proportional_closed_form():
    var = np.array([1.0, 3.0, 4.0])
    stats = {"components": COMPONENTS, "variance": var}
    x = np.random.default_rng(2).standard_normal((8, 8, 5)).astype(np.float32)
    pred = baselines.proportional(x, stats)
    assert pred.shape == (3, 8, 8, 5)
    for c, share in enumerate([1 / 8, 3 / 8, 4 / 8]):
        np.testing.assert_allclose(pred[c], share * x, rtol=1e-6)
    np.testing.assert_allclose(pred.sum(axis=0), x, rtol=1e-5, atol=1e-6)
    even = baselines.proportional(x, {"components": COMPONENTS, "variance": np.zeros(3)})
    np.testing.assert_allclose(even[0], x / 3, rtol=1e-6)


def test_registry():
    assert set(baselines.BASELINES) >= {"zero", "proportional"}
    stats = {"components": COMPONENTS, "variance": np.ones(3)}
    for fn in baselines.BASELINES.values():
        assert fn(np.ones((4, 4, 2)), stats).shape == (3, 4, 4, 2)
