"""The embedded default (config/config.yaml) end to end: the U-Net must beat the baselines.

This is README command 1's workflow in a scratch folder (minutes on 2 cores). Skip it with
``GRAVSEP_SKIP_DEFAULT_RUN=1`` for quick local iterations; CI runs it.
"""

import os

import pandas as pd
import pytest
from workflow_helpers import REPO, snakemake

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.skipif(
        os.environ.get("GRAVSEP_SKIP_DEFAULT_RUN") == "1" and os.environ.get("CI") != "true",
        reason="GRAVSEP_SKIP_DEFAULT_RUN=1",
    ),
]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("default-run")
    result = snakemake(workdir, configfile=REPO / "config" / "config.yaml", timeout=3000)
    if result.returncode != 0:
        pytest.fail("the default workflow failed:\n" + result.stderr[-8000:])
    return workdir


def default_config():
    """config/config.yaml validated and checked (defaults filled in); and its models."""
    import yaml
    from gravsep.config import check, validate

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(cfg)
    return cfg, check(cfg)


def own_noise():
    """Model -> the noise id of its own dataset (config/config.yaml)."""
    from gravsep.harmonics.noise import noise_id

    return {name: noise_id(m["dataset"]["noise"]) for name, m in default_config()[1].items()}


def test_unet_beats_zero_and_proportional_for_every_component(default_run):
    df = pd.read_csv(default_run / "results" / "metrics.csv")
    own = df["input_noise"] == df["model"].map(own_noise())  # each model on its own input
    test = df[own & (df["split"] == "test") & (df["component"] != "sum")]
    table = test.pivot_table(index=["model", "component"], columns="method", values="rel_rms")
    models = {"latlon", "tlon", "hybrid", "noisy", "monthly", "ensemble"}
    assert set(table.index.get_level_values("model")) == models
    assert set(table.index.get_level_values("component")) == {"AO", "H", "I", "S"}
    for baseline in ("zero", "proportional"):
        worse = table[table["unet"] >= table[baseline]]
        assert worse.empty, f"U-Net not below the {baseline} baseline:\n{worse}"
    # the lat_lon model separates the large components well
    latlon = table.loc["latlon"]
    assert (latlon.loc[["AO", "H", "I"], "unet"] < 0.6).all(), latlon


def _unet_errors(default_run, model, split):
    df = pd.read_csv(default_run / "results" / "metrics.csv")
    rows = df[(df["model"] == model) & (df["method"] == "unet") & (df["split"] == split)
              & (df["input_noise"] == "none") & (df["component"] != "sum")]  # fmt: skip
    return rows.set_index("component")["rel_rms"]


def test_hybrid_model_places_s_on_the_validation_year(default_run):
    """Issue 14's validation criterion: the hybrid model's S error on the validation year is
    below 1 (latlon ~1.15; hybrid 0.77 over seeds 1-3, its head's year ramp carrying the
    glacial isostatic trend), and on the test year below the regression baseline's (which has
    no ramp and predicts S's mean: 1.00)."""
    val, test = (_unet_errors(default_run, "hybrid", split) for split in ("validation", "test"))
    assert val["S"] < 1, val
    assert test["S"] < 0.9, test


def test_hybrid_model_halves_the_latlon_error_of_ao_h_and_i(default_run):
    """The linear head (issue 14): on the test year the hybrid model's AO, H and I errors are
    at most half latlon's (measured over seeds 1-3: a tenth to a quarter)."""
    latlon, hybrid = (_unet_errors(default_run, m, "test") for m in ("latlon", "hybrid"))
    big = ["AO", "H", "I"]
    assert (hybrid[big] <= 0.5 * latlon[big]).all(), pd.DataFrame({"latlon": latlon,
                                                                   "hybrid": hybrid})  # fmt: skip


# strict: turns red once the target is reached, so that this marker and the note are updated
@pytest.mark.xfail(reason="issue 14's target, not reached for S: the hybrid model halves AO, H "
                          "and I, but its S error is 0.74 (latlon 0.79), and S's half (~0.40) "
                          "is below the 0.43 the test year's unseen earthquake alone leaves "
                          "(synthetic.mode_shares)",
                   strict=True)  # fmt: skip
def test_best_new_model_halves_the_latlon_error(default_run):
    latlon, hybrid = (_unet_errors(default_run, m, "test") for m in ("latlon", "hybrid"))
    assert (hybrid <= 0.5 * latlon).all(), pd.DataFrame({"latlon": latlon, "hybrid": hybrid})


def test_regression_baseline_halves_the_latlon_error_but_for_s(default_run):
    """The synthetic model is a sum of fixed spatial patterns, so a linear map from the whole
    input map (the regression baseline) separates AO, H and I of the test year with less than
    half the paper's network's error (measured: about a tenth for AO and H, a quarter for I);
    S, a millimetre signal under centimetres, it does not predict (falls back to the mean)."""
    df = pd.read_csv(default_run / "results" / "metrics.csv")
    rows = df[(df["method"] == "regression") & (df["component"] != "sum")]
    assert set(rows["model"]) >= {"latlon", "hybrid", "noisy", "monthly", "ensemble"}
    test = rows[(rows["model"] == "latlon") & (rows["split"] == "test")
                & (rows["input_noise"] == "none")].set_index("component")["rel_rms"]  # fmt: skip
    latlon = _unet_errors(default_run, "latlon", "test")
    big = ["AO", "H", "I"]
    table = pd.DataFrame({"regression": test, "latlon": latlon})
    assert (test[big] < 0.5 * latlon[big]).all(), table
    assert test["S"] > 0.9, test


def test_default_report_builds(default_run):
    result = snakemake(default_run, "--report", "report.html",
                       configfile=REPO / "config" / "config.yaml")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    html = (default_run / "report.html").read_text(errors="replace")
    assert "metrics.html" in html and "component_maps.png" in html


def test_noise_trained_unet_beats_everything_on_the_noisy_input(default_run):
    """On the test year's noisy input: the U-Net trained with noise below every baseline on
    that input (the classical chain filter_pca among them) and below the noise-free U-Net."""
    noisy = own_noise()["noisy"]
    df = pd.read_csv(default_run / "results" / "metrics.csv")
    assert set(df["input_noise"]) >= {"none", noisy}
    test = df[(df["split"] == "test") & (df["component"] != "sum") & (df["input_noise"] == noisy)]
    table = test.pivot_table(index=["model", "method"], columns="component", values="rel_rms")
    ours = table.loc[("noisy", "unet")]
    rivals = {f"{b} on the noisy input": table.loc[("noisy", b)]
              for b in ("zero", "proportional", "pca", "filter_pca")}  # fmt: skip
    rivals["the noise-free U-Net on the noisy input"] = table.loc[("latlon", "unet")]
    for name, other in rivals.items():
        worse = ours[ours >= other]
        assert worse.empty, f"noise-trained U-Net not below {name}:\n{ours}\n{other}"


def test_default_apply_products(default_run):
    """The embedded demonstration through the real-data path: products, report, metrics."""
    import xarray as xr

    out = default_run / "results" / "apply" / "demo"
    with xr.open_dataset(out / "separated.nc") as ds:
        assert ds.attrs["Conventions"] == "CF-1.8" and len(ds.time) == 12
        for comp in ("AO", "H", "I", "S"):
            assert f"prediction_{comp}" in ds and f"truth_{comp}" in ds
        assert "residual" in ds and "time_bnds" in ds
    regions = pd.read_csv(out / "regional_means.csv")
    assert {"Greenland", "Antarctica", "Amazon", "Ganges_Brahmaputra"} <= set(regions["region"])
    for name in ("figures/maps.png", "figures/regional_means.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name
    summary = (out / "summary.html").read_text()
    assert "Sum of the components" in summary and "Apply versus truth" in summary
    report = (out / "corrections.yaml").read_text()
    assert report.count("TN-14") >= 12 and report.count("TN-13") >= 12 and "dropped: []" in report


def test_apply_versus_truth_in_the_metrics_table(default_run):
    df = pd.read_csv(default_run / "results" / "metrics.csv")
    applied = df[(df["split"] == "apply") & (df["component"] != "sum")]
    table = applied.pivot_table(index="component", columns="method", values="rel_rms")
    assert set(table.index) == {"AO", "H", "I", "S"} and set(applied["model"]) == {"monthly"}
    from gravsep.harmonics.noise import noise_id

    # the demonstration's files carry observation noise, and the rows say which
    assert set(applied["input_noise"]) == {noise_id(default_config()[0]["demo"]["noise"])}
    assert (table["unet"] < table["zero"]).all() and (table["unet"] < table["proportional"]).all()
    html = (default_run / "results" / "metrics.html").read_text()
    assert "apply (1999)" in html


def test_corrected_series_equals_the_truth(default_run):
    """C20/C30 replaced, degree 1 inserted and converted, constants rescaled, mean removed: the
    corrected demonstration series is the truth plus the files' observation noise (degree 2
    and up, C20 and C30 replaced) to the files' 13 significant digits."""
    import numpy as np
    from gravsep.constants import GM, R_EARTH
    from gravsep.formats.series import Series
    from gravsep.formats.store import from_seconds, read_store
    from gravsep.level2.demo import GRACE_GM, GRACE_R, month_noise
    from gravsep.level2.inputs import rescale

    res = default_run / "results"
    with Series(res / "apply/demo/series.h5") as s:
        cs, start, end = s.cs, from_seconds(s.start), from_seconds(s.end)
    truth = sum(read_store(res / f"demo/truth/{c}_1999.h5")[1] for c in ("AO", "H", "I", "S"))
    noise = month_noise(default_config()[0]["demo"]["noise"], cs.shape[-1] - 1, start, end)
    assert noise is not None, "the default's demonstration has observation noise"
    noise = rescale(noise, GRACE_GM, GRACE_R, GM, R_EARTH)
    noise[:, 0, 2:4, 0] = 0.0  # replaced by TN-14's C20 and C30
    assert np.abs(noise[:, :, :2]).max() == 0.0  # none in degrees 0 and 1
    truth = truth + noise
    truth = truth - truth.mean(axis=0)
    rel = np.sqrt(((cs - truth) ** 2).sum() / (truth**2).sum())
    assert rel < 1e-7, rel
    deg1 = np.abs(cs[:, :, 1] - truth[:, :, 1]).max() / np.abs(truth[:, :, 1]).max()
    assert deg1 < 1e-8, deg1  # TN-13's 10 digits, after the 1.027/1.021 conversion


def test_ensemble_spread_is_calibrated_on_the_test_year(default_run):
    """After the calibration fitted on the validation year (factor and floor), the ensemble's
    spread is right on the test year for every component: spread-skill ratio within 0.8-1.25,
    95 % coverage within 0.90-0.98 (docs/ensembles.md)."""
    cal = pd.read_csv(default_run / "results" / "calibration.csv")
    assert set(cal["model"]) == {"ensemble"}
    assert set(cal["split"]) == {"validation", "test"}
    test = cal[cal["split"] == "test"].set_index("component")
    assert set(test.index) == {"AO", "H", "I", "S"}
    assert (test["scale"] + test["floor"] > 0).all()
    # the raw spread is far too small on the validation year: the calibration does the work
    val = cal[cal["split"] == "validation"].set_index("component")
    assert (val["spread_skill"] < 0.8).all(), val
    bad = test[~test["spread_skill"].between(0.8, 1.25) | ~test["coverage_95"].between(0.9, 0.98)]
    assert bad.empty, f"ensemble spread not calibrated on the test year:\n{bad}"


def test_ensemble_mean_no_worse_than_its_members(default_run):
    members = pd.read_csv(default_run / "results" / "models" / "ensemble" / "members.csv")
    test = members[members["split"] == "test"]
    table = test.pivot_table(index="component", columns="member", values="rel_rms")
    own = [m for m in table.columns if m != "mean"]
    assert len(own) >= 2, table.columns
    worse = table[table["mean"] > table[own].mean(axis=1)]
    assert worse.empty, f"ensemble mean worse than its members' mean error:\n{table}"
    # the mean is the model's prediction in the metrics table
    df = pd.read_csv(default_run / "results" / "metrics.csv")
    unet = df[(df["model"] == "ensemble") & (df["method"] == "unet") & (df["split"] == "test")]
    assert set(unet["component"]) >= {"AO", "H", "I", "S"}
    for fig in ("spread_maps", "reliability"):
        png = default_run / "results" / "models" / "ensemble" / "figures" / f"{fig}.png"
        assert png.read_bytes()[:4] == b"\x89PNG", fig
