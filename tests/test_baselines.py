"""Baselines and the training statistics they use."""

import h5py
import numpy as np
import pytest
from gravsep.dataset.sampling import cube_to_samples, mix, random_mixing, resample_time
from gravsep.evaluation import baselines
from gravsep.formats.samples import SamplesWriter
from gravsep.harmonics.grids import lat_lon

COMPONENTS = ["AO", "H", "I"]


def write_targets(path, cubes, sampling, g=None, g_pinv=None):
    """Minimal dataset file: targets of ``{year: (C, dim, dim, dim) cube}`` as samples."""
    dim = next(iter(cubes.values())).shape[1]
    lat, lon = lat_lon(dim)
    with SamplesWriter(path, components=COMPONENTS, sampling=sampling, lat=lat, lon=lon,
                       split={"train_years": sorted(cubes)}, dtype=np.float32, g=g,
                       g_pinv=g_pinv) as w:  # fmt: skip
        for year, cube in cubes.items():
            target = cube_to_samples(cube, sampling)
            if g is not None:
                target = mix(target, g)
            inp, tgt = w.add_year(year, cube.shape[-1])
            tgt[...] = target.astype(np.float32)
            inp[...] = target.sum(axis=-1).astype(np.float32)


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
    assert set(baselines.BASELINES) >= {"zero", "proportional", "pca", "regression"}
    stats = {
        "components": COMPONENTS,
        "variance": np.ones(3),
        "eof_mean": np.zeros((3, 4, 4)),
        "eofs": [np.ones((1, 4, 4)), np.zeros((0, 4, 4)), np.ones((2, 4, 4))],
        "eof_lat": lat_lon(4)[0],
        "reg_features": np.ones((3, 16), dtype=np.float32),
        "reg_x_mean": np.zeros(16),
        "reg_y_mean": np.zeros((3, 16)),
        "reg_coef": np.zeros((3, 3, 16), dtype=np.float32),
        "reg_lat": lat_lon(4)[0],
        "reg_shape": (4, 4),
    }
    for fn in baselines.BASELINES.values():
        assert fn(np.ones((4, 4, 2)), stats).shape == (3, 4, 4, 2)


# --- PCA baseline -------------------------------------------------------------------------

DIM = 8


def weighted_basis(n, seed, dim=DIM):
    """``n`` random patterns ``(n, dim*dim)`` orthonormal under the pixel area weights.

    The pole row (weight 0) is set to 0, so the patterns are orthonormal under any weights
    that agree elsewhere.
    """
    lat, _ = lat_lon(dim)
    w = baselines._pixel_weights(lat, dim)
    keep = w > 0
    m = np.random.default_rng(seed).standard_normal((keep.sum(), n))
    q, _ = np.linalg.qr(np.sqrt(w[keep])[:, None] * m)
    out = np.zeros((n, dim * dim))
    out[:, keep] = (q / np.sqrt(w[keep])[:, None]).T
    return out


def subspace_cubes(patterns, years, numt=12, scales=(1.0, 0.7), offset=0.3, seed=5):
    """Cubes ``(C, dim, dim, numt)`` per year; component c is a combination of patterns[c]."""
    rng = np.random.default_rng(seed)
    out = {}
    for year in years:
        comps = []
        for p in patterns:
            k = p.shape[0]
            a = rng.standard_normal((numt, k)) * np.resize(scales, k) + offset
            comps.append((a @ p).reshape(numt, DIM, DIM).transpose(1, 2, 0))
        out[year] = np.stack(comps).astype(np.float32)
    return out


def write_windows(path, cubes, sampling="lat_lon", g=None, g_pinv=None, train=None):
    """Dataset of window cubes ``(C, dim, dim, numt)``: time resampled to dim, attr numt."""
    write_targets(
        path,
        {y: resample_time(c, c.shape[1]) for y, c in cubes.items()},
        sampling,
        g=g,
        g_pinv=g_pinv,
    )
    with h5py.File(path, "a") as f:
        if train is not None:
            f.attrs["train_years"] = train
        for year, cube in cubes.items():
            f[f"years/{year}"].attrs["numt"] = cube.shape[-1]


def span_residual(eofs, patterns):
    """Largest weighted residual of ``patterns`` projected on the span of ``eofs``."""
    w = baselines._pixel_weights(lat_lon(DIM)[0], DIM)
    e = np.asarray(eofs, dtype=np.float64).reshape(len(eofs), -1)
    coef = np.linalg.lstsq((e * np.sqrt(w)).T, (patterns * np.sqrt(w)).T, rcond=None)[0]
    return np.abs(np.sqrt(w) * (patterns - coef.T @ e)).max()


@pytest.mark.parametrize("sampling", ["lat_lon", "lat_t", "t_lon"])
def test_pca_recovers_orthogonal_components(tmp_path, sampling):
    basis = weighted_basis(6, seed=3)
    patterns = [basis[0:2], basis[2:4], basis[4:6]]
    cubes = subspace_cubes(patterns, [2000, 2001, 2002])
    path = tmp_path / "samples.h5"
    write_windows(path, cubes, sampling, train=[2000, 2001])
    stats = baselines.training_statistics(path, eofs=True)
    assert [e.shape for e in stats["eofs"]] == [(2, DIM, DIM)] * 3
    np.testing.assert_allclose(stats["eof_explained"], 1.0, rtol=1e-6)
    assert stats["eof_windows"] == 24
    w = baselines._pixel_weights(stats["eof_lat"], DIM)
    for e, p in zip(stats["eofs"], patterns, strict=True):
        e = e.reshape(2, -1).astype(np.float64)
        np.testing.assert_allclose((e * w) @ e.T, np.eye(2), atol=1e-5)  # W-orthonormal
        assert span_residual(e, p) < 1e-5
    truth = cubes[2002]
    pred = baselines.pca(truth.sum(axis=0), stats, regularise=False)
    assert pred.shape == truth.shape and pred.dtype == np.float32
    np.testing.assert_allclose(pred, truth, atol=1e-5 * np.abs(truth).max())


def test_pca_training_mean_and_truncation(tmp_path):
    basis = weighted_basis(6, seed=4)
    patterns = [basis[0:3], basis[3:5], basis[5:6]]
    cubes = subspace_cubes(patterns, [2000], numt=20, scales=(1.0, 0.3, 0.01))
    path = tmp_path / "samples.h5"
    write_windows(path, cubes)
    x = cubes[2000]
    stats = baselines.eof_statistics(path, variance_fraction=0.99)
    # the windows as read back: resampled to dim steps and back to numt
    windows = resample_time(resample_time(x, DIM), 20)
    np.testing.assert_allclose(stats["eof_mean"], windows.mean(axis=-1), atol=1e-5)
    # the 1% pattern of component 0 is dropped by the variance criterion...
    assert [len(e) for e in stats["eofs"]] == [2, 2, 1]
    assert 0.99 <= stats["eof_explained"][0] < 1.0
    # ...and the cap applies on top of it
    capped = baselines.eof_statistics(path, n_eofs=1)
    assert [len(e) for e in capped["eofs"]] == [1, 1, 1]
    assert np.all(np.diff(stats["eof_variance"][0]) <= 0)


def test_pca_overlapping_is_least_squares(tmp_path):
    rng = np.random.default_rng(7)
    basis = weighted_basis(4, seed=8)
    skew = basis[3] + 0.5 * basis[0]  # not orthogonal to component 0
    patterns = [basis[0:2], np.stack([basis[1], basis[2]]), skew[None]]
    cubes = subspace_cubes(patterns, [2000, 2001])
    path = tmp_path / "samples.h5"
    write_windows(path, cubes, train=[2000])
    stats = baselines.training_statistics(path, eofs=True)
    for e, p in zip(stats["eofs"], patterns, strict=True):
        assert len(e) == len(p)
        assert span_residual(e, p) < 1e-5
    x = cubes[2001].sum(axis=0) + 0.01 * rng.standard_normal((DIM, DIM, 12))
    pred = baselines.pca(x, stats, regularise=False).astype(np.float64)
    # reference: weighted least squares with numpy, minimum-norm where the basis is dependent
    sw = np.sqrt(baselines._pixel_weights(stats["eof_lat"], DIM))[:, None]
    mean = stats["eof_mean"].astype(np.float64).reshape(3, -1)
    eofs = [e.reshape(len(e), -1).T.astype(np.float64) for e in stats["eofs"]]
    a = np.concatenate(eofs, axis=1)
    # five EOFs span four dimensions (to the float32 precision of the stored targets)
    assert np.linalg.matrix_rank(sw * a, rtol=baselines.PCA_RCOND) == 4
    b = x.reshape(-1, 12).astype(np.float64) - mean.sum(axis=0)[:, None]
    coef = np.linalg.lstsq(sw * a, sw * b, rcond=baselines.PCA_RCOND)[0]
    split = np.cumsum([e.shape[1] for e in eofs])[:-1]
    for c, (e, k) in enumerate(zip(eofs, np.split(coef, split), strict=True)):
        expect = (mean[c][:, None] + e @ k).reshape(DIM, DIM, 12)
        np.testing.assert_allclose(pred[c], expect, atol=1e-6)
    # the residual of the sum is orthogonal (area-weighted) to every EOF
    resid = sw * (x.reshape(-1, 12) - pred.sum(axis=0).reshape(-1, 12))
    assert np.abs((sw * a).T @ resid).max() < 1e-6


def test_pca_unmixes_random_samples(tmp_path):
    basis = weighted_basis(6, seed=3)
    patterns = [basis[0:2], basis[2:4], basis[4:6]]
    cubes = subspace_cubes(patterns, [2000, 2001])
    g, g_pinv = random_mixing(DIM, 2 * DIM, seed=1)
    path = tmp_path / "samples.h5"
    write_windows(path, cubes, g=g, g_pinv=g_pinv, train=[2000])
    stats = baselines.training_statistics(path, eofs=True)
    pred = baselines.pca(cubes[2001].sum(axis=0), stats, regularise=False)
    np.testing.assert_allclose(pred, cubes[2001], atol=1e-4 * np.abs(cubes[2001]).max())


@pytest.mark.parametrize("n_t", [5, 200])
def test_leading_eofs_both_gram_forms(n_t):
    """Time-Gram (T <= P) and pixel-Gram (T > P) paths give the weighted SVD's EOFs."""
    rng = np.random.default_rng(n_t)
    n_p = 40
    w = rng.uniform(0.5, 1.5, n_p)
    w /= w.sum()
    x = rng.standard_normal((n_t, 4)) * [3.0, 2.0, 1.0, 0.5] @ rng.standard_normal((4, n_p))
    x = x - x.mean(axis=0)
    e, var, total = baselines._leading_eofs(x, w, n_eofs=3, variance_fraction=1.0)
    u, s, vt = np.linalg.svd(x * np.sqrt(w), full_matrices=False)
    ref = vt[:3] / np.sqrt(w)
    signs = np.sign((e * ref).sum(axis=1))
    np.testing.assert_allclose(e * signs[:, None], ref, atol=1e-8)
    np.testing.assert_allclose(var, s[:3] ** 2 / n_t, rtol=1e-10)
    np.testing.assert_allclose(total, (s**2).sum() / n_t, rtol=1e-10)


def test_pca_needs_eofs():
    with pytest.raises(KeyError, match="eofs=True"):
        baselines.pca(np.ones((4, 4, 2)), {"components": COMPONENTS})


def test_evaluate_includes_pca(tmp_path):
    from gravsep.evaluation import evaluate as evaluation

    basis = weighted_basis(6, seed=3)
    patterns = [basis[0:2], basis[2:4], basis[4:6]]
    cubes = subspace_cubes(patterns, [2000, 2001, 2002])
    path = tmp_path / "samples.h5"
    write_windows(path, cubes, train=[2000])
    with h5py.File(path, "a") as f:
        f.attrs["validation_years"] = [2001]
        f.attrs["test_years"] = [2002]
        for year in cubes:
            t0 = np.datetime64(f"{year}-01-04T12", "s").astype(np.int64)
            f[f"years/{year}/time"] = t0 + 7 * 86400 * np.arange(12, dtype=np.int64)
    pred = tmp_path / "predictions.h5"
    with h5py.File(path, "r") as fd, h5py.File(pred, "w") as f:
        for year in (2001, 2002):
            f[f"years/{year}/prediction"] = np.zeros_like(fd[f"years/{year}/target"])
    df = evaluation.evaluate(path, pred, tmp_path / "ev.h5", tmp_path / "m.csv", "m")
    pca_rows = df[df["method"] == "pca"]
    assert len(pca_rows) == 2 * 4
    # exact subspaces: the baseline's error is only the double time resampling of the truth
    assert pca_rows["rel_rms"].max() < 0.05
    with h5py.File(tmp_path / "ev.h5", "r") as f:
        assert "relative_rms/pca" in f


def test_pca_regularised_keeps_a_small_component_bounded():
    """A tiny component whose EOF nearly equals a large one's: plain least squares gives it
    large opposite-signed parts; the regularised (optimal-interpolation) solve does not."""
    rng = np.random.default_rng(5)
    n_lat, n_lon, n_t = 8, 8, 40
    lat = 90.0 - 180.0 / n_lat * np.arange(n_lat)
    w = baselines._pixel_weights(lat, n_lon)
    a = rng.normal(size=n_lat * n_lon)
    b = a + 0.01 * rng.normal(size=n_lat * n_lon)  # nearly the same pattern
    a /= np.sqrt(np.sum(w * a * a))
    b /= np.sqrt(np.sum(w * b * b))
    big = np.outer(a, rng.normal(size=n_t))  # variance 1
    small = np.outer(b, 1e-3 * rng.normal(size=n_t))  # variance 1e-6
    noise = 1e-3 * rng.normal(size=big.shape)
    stats = {
        "components": ["big", "small"],
        "eof_mean": np.zeros((2, n_lat, n_lon)),
        "eofs": [a.reshape(1, n_lat, n_lon), b.reshape(1, n_lat, n_lon)],
        "eof_variance": [np.array([1.0]), np.array([1e-6])],
        "eof_explained": np.array([0.999, 0.999]),
        "eof_lat": lat,
    }
    x = (big + small + noise).reshape(n_lat, n_lon, n_t)
    truth = np.stack([big, small]).reshape(2, n_lat, n_lon, n_t)

    def rel(pred, c):
        return np.sqrt(np.mean((pred[c] - truth[c]) ** 2) / np.mean(truth[c] ** 2))

    plain = baselines.pca(x, stats, regularise=False)
    regular = baselines.pca(x, stats)
    assert rel(plain, 1) > 3.0
    assert rel(regular, 1) < 1.5
    assert rel(regular, 0) < 0.01
