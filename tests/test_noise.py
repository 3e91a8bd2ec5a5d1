"""Observation noise: the GRACE-like model, ICGEM realisations, destriping, the classical chain.

The noise model is checked against its own definition (spectrum, stripe correlation, window
scaling, reproducibility) with sampling-error bounds; destriping against gravity-toolkit
(independent code) and closed forms; the noisy dataset against a recomputation.
"""

import numpy as np
import pytest
from gravsep.config import section_defaults
from gravsep.constants import R_EARTH
from gravsep.formats.icgem import write_icgem
from gravsep.harmonics import noise as nz
from gravsep.harmonics.destripe import destripe
from gravsep.harmonics.filtering import gaussian_weights
from gravsep.harmonics.units import ewh_factors


def definition(**changes):
    d = section_defaults("noise") | {"model": "grace_like"}
    return d | changes


def draws(noise, n, nmax=20, days=30.0, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([nz.grace_like(nmax, noise, days, rng) for _ in range(n)])


def test_spectrum_matches_the_definition_within_sampling_error():
    noise, nmax, n = definition(), 20, 400
    x = draws(noise, n, nmax)
    power = (x**2).sum(axis=(1, 3))  # (draw, degree): sum over C/S and orders
    expected = (nz.degree_amplitudes(nmax, noise, 30.0) / R_EARTH) ** 2
    degree = np.arange(nmax + 1)
    for deg in range(2, nmax + 1):
        k = 2 * deg + 1  # coefficients of the degree (S_n0 absent)
        # each coefficient's variance is exact; the mean over draws has relative error
        # sqrt(2 / (draws * k)) for independent coefficients, more with the stripe correlation
        tolerance = 5 * np.sqrt(2.0 / (n * k)) * 3
        assert abs(power[:, deg].mean() / expected[deg] - 1) < tolerance, deg
    assert np.all(power[:, degree < noise["nmin"]] == 0)


def test_stripes_correlate_same_order_same_parity_and_switch_off():
    nmax, m, n0 = 30, 20, 22
    for rho_max, expect in ((0.9, True), (0.0, False)):
        noise = definition(stripe_correlation=rho_max)
        x = draws(noise, 600, nmax, seed=1)[:, 0, :, m]  # C coefficients of order m
        same = np.corrcoef(x[:, n0], x[:, n0 + 2])[0, 1]
        other = np.corrcoef(x[:, n0], x[:, n0 + 1])[0, 1]
        rho = nz.stripe_correlations(nmax, noise)[m]
        assert abs(other) < 0.15
        if expect:
            assert abs(same - rho) < 0.08 and rho > 0.7, (same, rho)
        else:
            assert abs(same) < 0.15
    # weaker at low orders
    assert (
        nz.stripe_correlations(30, definition())[1]
        < 0.1
        < nz.stripe_correlations(30, definition())[25]
    )


def test_windows_reproducible_independent_and_scaled_with_length():
    source = nz.NoiseSource(definition(seed=3), 12)
    week = 7 * 86400
    a = source.window(0, week)
    np.testing.assert_array_equal(a, nz.NoiseSource(definition(seed=3), 12).window(0, week))
    b = source.window(week, 2 * week)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] < 0.2
    other_seed = nz.NoiseSource(definition(seed=4), 12).window(0, week)
    assert not np.allclose(a, other_seed, rtol=1e-6, atol=0)
    # the same draw over 28 instead of 7 days: half the amplitude
    month = source.window(0, 4 * week)
    np.testing.assert_allclose(month, a / 2.0, rtol=1e-12)
    np.testing.assert_allclose(nz.NoiseSource(definition(seed=3, scale=2.5), 12).window(0, week),
                               2.5 * a, rtol=1e-12)  # fmt: skip


def test_calibration_monthly_400km_is_1_5_cm():
    """The schema's default amplitude gives 1.5 cm EWH RMS (monthly, 400 km Gaussian, n<=96)."""
    nmax, noise = 96, definition()
    w = gaussian_weights(nmax, 400.0)
    per_degree = w * ewh_factors(nmax) * nz.degree_amplitudes(nmax, noise, 30.0) / R_EARTH
    assert np.sqrt((per_degree**2).sum()) == pytest.approx(0.015, rel=0.01)


def test_files_mode_reads_assigns_and_refuses(tmp_path):
    folder = tmp_path / "realisations"
    folder.mkdir()
    rng = np.random.default_rng(5)
    fields = []
    for k in range(4):
        cs = rng.normal(scale=1e-11, size=(2, 6, 6)) * np.tri(6)
        cs[1, :, 0] = 0
        write_icgem(folder / f"diff_{k}.gfc", cs)
        fields.append(cs)
    source = nz.NoiseSource(definition(model="files", folder=str(folder), seed=2), 5)
    got = [source.window(0, 1, index=i) for i in range(4)]
    which = []
    for g in got:  # every window one of the files (as written, 13 digits), each file once
        match = [k for k, f in enumerate(fields) if np.allclose(g, f, rtol=1e-11, atol=0)]
        assert len(match) == 1
        which += match
    assert sorted(which) == [0, 1, 2, 3]
    again = nz.NoiseSource(definition(model="files", folder=str(folder), seed=2), 5)
    np.testing.assert_array_equal(again.window(0, 1, index=3), got[3])
    with pytest.raises(ValueError, match=r"4 ICGEM files, but the dataset has 9 windows"):
        source.check_count(9)
    with pytest.raises(ValueError, match="expected 7") as err:
        nz.NoiseSource(definition(model="files", folder=str(folder)), 7).window(0, 1, index=0)
    assert "diff_" in str(err.value)  # the file is named
    with pytest.raises(ValueError, match="not a folder"):
        nz.NoiseSource(definition(model="files", folder=str(tmp_path / "none")), 5)


def test_noise_id():
    assert nz.noise_id({"model": "none"}) == nz.noise_id(None) == "none"
    a, b = nz.noise_id(definition()), nz.noise_id(definition(scale=2.0))
    assert a.startswith("grace_like-") and a != b and nz.noise_id(definition()) == a
    # the augmentation bank does not change the input: same id
    assert nz.noise_id(definition(augment=True, bank_size=16)) == a


# ------------------------------------------------------------------------ destriping


def test_destripe_equals_gravity_toolkit():
    gtk = pytest.importorskip("gravity_toolkit.destripe_harmonics")
    rng = np.random.default_rng(0)
    for nmax in (31, 60, 96):
        cs = rng.standard_normal((2, nmax + 1, nmax + 1)) * np.tri(nmax + 1)
        cs[1, :, 0] = 0
        ours = destripe(cs)
        theirs = gtk.destripe_harmonics(cs[0], cs[1], LMAX=nmax, NARROW=True)
        np.testing.assert_allclose(ours[0], theirs["clm"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(ours[1], theirs["slm"], rtol=0, atol=1e-12)


def test_destripe_removes_smooth_chains_and_keeps_the_rest():
    nmax = 60
    n = np.arange(nmax + 1, dtype=float)[:, None]
    quadratic = (1.0 + 0.3 * n - 0.01 * n**2) * np.tri(nmax + 1)
    cs = np.stack([quadratic, quadratic])
    cs[1, :, 0] = 0
    out = destripe(cs)
    assert np.abs(out[:, 30:, 20:31]).max() < 1e-10  # long chains: the smooth part removed
    np.testing.assert_array_equal(out[:, :, :5], cs[:, :, :5])  # orders below mmin kept
    np.testing.assert_array_equal(out[:, :, 58:], cs[:, :, 58:])  # chains shorter than windows


# ------------------------------------------------------------------------ classical chain


def test_classical_chain_without_filtering_is_the_pca_baseline():
    from gravsep.evaluation.baselines import pca
    from gravsep.evaluation.classical import filter_pca
    from gravsep.harmonics.grids import lat_lon, synthesize

    rng = np.random.default_rng(2)
    dim, nmax, n_t = 16, 7, 6
    lat, _ = lat_lon(dim)

    def field():
        cs = rng.standard_normal((2, nmax + 1, nmax + 1)) * np.tri(nmax + 1) * 0.01
        cs[1, :, 0] = 0
        return synthesize(cs, dim)

    mean = np.stack([field(), field()])
    eofs = [np.stack([field()]), np.stack([field(), field()])]
    stats = {"components": ["A", "B"], "eof_mean": mean.astype(np.float32), "eofs": eofs,
             "eof_lat": lat, "eof_variance": [np.ones(1), np.ones(2)],
             "eof_explained": np.array([0.9, 0.9])}  # fmt: skip
    x = np.stack([field() for _ in range(n_t)], axis=-1)
    plain = pca(x, stats)
    chain = filter_pca(x, stats, {"destripe": False, "gaussian_km": 0})
    np.testing.assert_allclose(chain, plain, rtol=1e-5, atol=1e-9)  # float32 grids
    smoothed = filter_pca(x, stats, {"destripe": True, "gaussian_km": 800})
    assert not np.allclose(smoothed, plain)


# ------------------------------------------------------------------------ the noisy dataset


def test_noisy_dataset_adds_filtered_noise_to_the_input_only(tmp_path):
    from gravsep.dataset.build import build_dataset
    from gravsep.dataset.sampling import resample_time
    from gravsep.formats.samples import Samples
    from gravsep.harmonics import filtering, grids, units
    from test_dataset import NMAX, SPLIT, WEEK, YEARS, make_stores

    comps = ["AO", "H"]
    stores = make_stores(tmp_path, {(c, y): 6 for c in comps for y in YEARS})
    noise = definition(seed=9, scale=3.0, augment=True, bank_size=5)
    args = (comps, YEARS, SPLIT, 5, "EWH", {"type": "global"}, "lat_lon")
    build_dataset(stores, tmp_path / "clean.h5", *args)
    build_dataset(stores, tmp_path / "noisy.h5", *args, noise=noise)
    source = nz.NoiseSource(noise, NMAX)
    weights = filtering.gaussian_weights(NMAX, filtering.half_width_km(5))[:, None]
    dim = grids.grid_size(NMAX)
    with Samples(tmp_path / "clean.h5") as clean, Samples(tmp_path / "noisy.h5") as noisy:
        assert clean.noise_id == "none" and noisy.noise_id == nz.noise_id(noise)
        assert noisy.noise()["scale"] == 3.0 and clean.noise_bank() is None
        assert noisy.noise_bank().shape == (5, dim, dim)
        index = 0
        for year in YEARS:
            x0, t0 = clean.read(year)
            x1, t1 = noisy.read(year)
            np.testing.assert_array_equal(t0, t1)  # targets stay clean
            starts = noisy.time(year) - WEEK // 2
            cs = np.stack([source.window(s, s + WEEK, index + k) for k, s in enumerate(starts)])
            index += len(starts)
            grids_ = grids.synthesize(units.stokes_to_ewh(cs * weights), dim)  # (W, lat, lon)
            expect = np.moveaxis(resample_time(np.moveaxis(grids_, 0, -1), dim), -1, 0)
            np.testing.assert_allclose(x1 - x0, expect, rtol=0, atol=2e-6 * np.abs(x1).max())


def test_augmentation_draws_bank_realisations_per_sample():
    tf = pytest.importorskip("tensorflow")
    from gravsep.network.features import InputFeatures
    from gravsep.network.training.pipeline import EpochPipeline

    class Source:  # what the pipeline needs of a SampleSource
        in_memory, n, features = True, 4, InputFeatures()
        x = y = pos_rows = pos_cols = None
        weights, neighbours = np.ones(4, np.float32), np.arange(4)[:, None]

    rng = np.random.default_rng(0)
    bank = rng.normal(size=(6, 8, 8)).astype(np.float32)
    y = tf.constant(rng.normal(size=(8, 8, 2)).astype(np.float32))

    def pipeline(frac):
        pipe = EpochPipeline(Source(), seed=1, batch_size=2, specs=[{}, {}],
                             target_scales=np.ones(2), input_scale=1.0, noise_bank=bank,
                             noise_frac=np.full(4, frac))  # fmt: skip
        pipe._bank, pipe._frac = tf.constant(bank), tf.constant(pipe.noise_frac)
        return pipe

    def noise_of(pipe, i):
        x, _, _ = pipe.prepare(tf.zeros((1, 8, 8)), y[None], tf.constant([5, i], tf.int64), 0)
        return (x[..., 0] - tf.reduce_sum(y, axis=-1)).numpy()

    rolled = [np.roll(bank[k], r, axis=1) for k in range(6) for r in range(8)]
    seen = set()
    for i in range(12):  # a sample at a window (weight 0): one bank realisation, rolled
        hits = [j for j, field in enumerate(rolled) if np.allclose(noise_of(pipeline(0.0), i),
                                                                   field, atol=1e-5)]  # fmt: skip
        assert len(hits) == 1, i
        seen.add(hits[0])
    assert len(seen) > 6  # fresh draws, not one realisation
    np.testing.assert_array_equal(noise_of(pipeline(0.0), 3), noise_of(pipeline(0.0), 3))
    # between two windows (weight 0.3): the blend of two realisations
    blend = noise_of(pipeline(0.3), 2)
    assert any(np.allclose(blend, 0.7 * a + 0.3 * b, atol=1e-5) for a in rolled for b in rolled)


def test_augmented_noise_has_the_variance_of_the_stored_noise(tmp_path):
    """Training draws (blends of two bank realisations with each sample's resampling weight)
    and the dataset's stored noise (time-resampled window draws) have the same variance."""
    tf = pytest.importorskip("tensorflow")
    from gravsep.dataset.build import build_dataset
    from gravsep.formats.samples import Samples
    from gravsep.network.features import InputFeatures
    from gravsep.network.training.pipeline import EpochPipeline
    from gravsep.network.training.trainer import _resampling_weights
    from test_dataset import YEARS, make_stores

    comps = ["AO", "H"]
    stores = make_stores(tmp_path, {(c, y): 12 for c in comps for y in YEARS})
    noise = definition(seed=4, augment=True, bank_size=64)
    split = {"train_years": YEARS, "validation_years": [], "test_years": []}
    build_dataset(stores, tmp_path / "n.h5", comps, YEARS, split, 5, "EWH", {"type": "global"},
                  "lat_lon", noise=noise)  # fmt: skip
    with Samples(tmp_path / "n.h5") as s:
        stored = np.concatenate([s.read(y)[0] - s.read(y)[1].sum(-1) for y in YEARS])
        frac = _resampling_weights(s, YEARS)
        bank = s.noise_bank()

    class Source:
        in_memory, n, features = True, len(frac), InputFeatures()
        x = y = pos_rows = pos_cols = None
        weights, neighbours = np.ones(len(frac), np.float32), np.arange(len(frac))[:, None]

    pipe = EpochPipeline(Source(), seed=2, batch_size=2, specs=[{}, {}], target_scales=np.ones(2),
                         input_scale=1.0, noise_bank=bank, noise_frac=frac)  # fmt: skip
    pipe._bank, pipe._frac = tf.constant(bank), tf.constant(pipe.noise_frac)
    y = tf.zeros(stored.shape[1:] + (2,))
    drawn = np.stack([pipe.prepare(tf.zeros((1,) + stored.shape[1:]), y[None],
                                   tf.constant([e, i], tf.int64), i)[0][..., 0].numpy()
                      for e in range(3) for i in range(len(frac))])  # fmt: skip
    ratio = np.mean(drawn**2) / np.mean(stored**2)
    assert abs(ratio - 1) < 0.15, ratio  # without the blend: 1 / mean((1-f)^2 + f^2), ~1.5


# ------------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    "change, key",
    [
        ({"models.tlon.dataset.noise": {"model": "grace_like", "augment": True}},
         "models.tlon.dataset.noise.augment"),
        ({"models.tlon.dataset.noise": {"model": "files"}}, "models.tlon.dataset.noise.folder"),
        ({"evaluation.cross": [{"model": "latlon", "on": "nope"}]}, "evaluation.cross[0].on"),
        ({"evaluation.cross": [{"model": "latlon", "on": "tlon"}]},
         "evaluation.cross[0]: model 'latlon' cannot predict that dataset (['sampling'] differ)"),
        ({"evaluation.cross": [{"model": "latlon", "on": "noisy"}],
          "models.latlon": {"dataset": {"train_years": [1995, 1997], "validation_years": [1996]}}},
         "evaluation.cross[0]: model 'latlon' was trained on [1997]"),
        ({"models.noisy.dataset.random_samples": True}, "models.noisy.dataset.noise.augment: not"),
        ({"evaluation.noise_sweep": {"dataset_of": "latlon", "scales": [1], "models": ["latlon"]}},
         "evaluation.noise_sweep.dataset_of"),
    ],
)  # fmt: skip
def test_config_refuses_bad_noise_and_evaluation(change, key):
    from pathlib import Path

    import yaml
    from gravsep.config import ConfigError, check, check_evaluation, validate

    cfg = yaml.safe_load((Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    for path, value in change.items():
        node = cfg
        *head, last = path.split(".")
        for k in head:
            node = node.setdefault(k, {})
        node[last] = value
    validate(cfg)
    with pytest.raises(ConfigError, match=re_escape(key)):
        check_evaluation(cfg, check(cfg))


def re_escape(text):
    import re

    return re.escape(text)


def test_noise_sweep_reuses_the_base_dataset_at_its_own_scale():
    """At the base model's own scale the sweep evaluates on that model's dataset (no second,
    bank-less copy of the same input); other scales get datasets of their own, without bank."""
    from pathlib import Path

    import yaml
    from gravsep.config import check, check_evaluation, dataset_id, validate

    cfg = yaml.safe_load((Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    validate(cfg)
    models = check(cfg)
    pairs = check_evaluation(cfg, models)
    base = models[cfg["evaluation"]["noise_sweep"]["dataset_of"]]["dataset"]
    comps = cfg["preprocess"]["components"]
    ids = {dataset_id(ds, comps) for _, ds in pairs}
    assert dataset_id(base, comps) in ids
    others = [ds for _, ds in pairs if ds["noise"]["scale"] != base["noise"]["scale"]]
    assert others and not any(ds["noise"]["augment"] for ds in others)
    # one noise id per scale, whatever the bank
    scale_ids = {(ds["noise"]["scale"] if nz.active(ds["noise"]) else 0.0, nz.noise_id(ds["noise"]))
                 for _, ds in pairs}  # fmt: skip
    assert len(scale_ids) == len({s for s, _ in scale_ids})
