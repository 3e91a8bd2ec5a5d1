"""The workflow end to end on the tiny configuration: outputs, staleness, report."""

import csv

import h5py
import numpy as np
import pytest
import yaml
from workflow_helpers import REPO, job_counts, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow

MODEL = "tiny"
COMPONENTS = ["AO", "H", "I", "S"]
YEARS = [1995, 1996, 1997]
FIGURES = ["rms_profiles", "degree_amplitudes", "maps", "component_errors", "training_curves"]


def _config(**changes):
    return tiny_config(**changes)


def _write_config(folder, name, cfg):
    # sorted keys: a reordering of the config file must mark nothing stale
    return write_config(folder, name, cfg, sort_keys=True)


def test_noise_files_are_inputs_of_the_dataset(tmp_path):
    """A ``files`` noise folder's realisations are inputs of the dataset job (a changed or
    added file marks the dataset stale); hidden files are not."""
    folder = tmp_path / "noise"
    folder.mkdir()
    for name in ("r1.gfc", "r2.gfc", ".hidden"):
        (folder / name).write_text("dummy\n")
    cfg = _config(**{"defaults.dataset.noise": {"model": "files", "folder": str(folder)}})
    result = snakemake(tmp_path, "-n", configfile=_write_config(tmp_path, "files.yaml", cfg))
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    job = out[out.index("rule dataset:") :].split("rule ", 2)[1]
    assert str(folder / "r1.gfc") in job and str(folder / "r2.gfc") in job
    assert ".hidden" not in job


def test_dry_run_plans_every_stage(tmp_path):
    result = snakemake(tmp_path, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout + result.stderr)
    n_archives = 5 * len(YEARS)
    assert counts["synthetic_archive"] == n_archives
    assert counts["store"] == n_archives and "unpack" not in counts  # streamed, no copy
    for rule in ("combine", "windows", "anomalies"):
        assert counts[rule] == len(COMPONENTS) * len(YEARS), rule
    for rule in ("synthetic_model", "dataset", "train", "predict", "evaluate", "figures"):
        assert counts[rule] == 1, rule
    assert not (tmp_path / "results").exists(), "a dry run must not write results"


def test_config_error_names_the_key(tmp_path):
    cfg = _config(**{"defaults.training.epocs": 3})
    result = snakemake(tmp_path, "-n", configfile=_write_config(tmp_path, "bad.yaml", cfg))
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "defaults.training" in out and "'epocs' was unexpected" in out
    cfg = _config(**{"defaults.dataset.test_years": [2010]})
    result = snakemake(tmp_path, "-n", configfile=_write_config(tmp_path, "bad2.yaml", cfg))
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "models.tiny.dataset.test_years" in out and "2010" in out


def test_stores_windows_and_anomalies_are_well_formed(tiny_run):
    res = tiny_run / "results"
    for letter in "AOHIS":
        for year in YEARS:
            with h5py.File(res / f"ingest/store/{letter}_{year}.h5") as f:
                n = 1464 if year % 4 == 0 else 1460
                assert f["cs"].shape == (n, 2, 16, 16)
                assert np.all(np.diff(f["time"][:]) == 6 * 3600)
                assert len(set(f["sha256"][:])) == n
    assert not (res / "ingest" / "unpacked").exists(), "archives are streamed, never unpacked"
    total = 0
    for comp in COMPONENTS:
        for year in YEARS:
            with h5py.File(res / f"preprocess/anomalies/{comp}_{year}.h5") as f:
                cs = f["cs"][:]
                # windows filed under the year they start in; the last year's last
                # windows end after the data and are dropped
                assert cs.shape[0] in (51, 52, 53)
                np.testing.assert_allclose(cs.mean(axis=0), 0.0, atol=1e-20)
                total += cs.shape[0]
    # weekly windows over 3 years (1096 days): 156 full weeks, counted once per component
    assert total == len(COMPONENTS) * 156


def test_dataset_is_well_formed(tiny_run):
    (path,) = (tiny_run / "results/datasets").glob("*/samples.h5")
    with h5py.File(path) as f:
        assert list(f.attrs["components"]) == COMPONENTS
        dim = int(f.attrs["dim"])
        assert dim == 32 and f["lat"].shape == (dim,)
        for year in YEARS:
            x, y = f[f"years/{year}/input"][:], f[f"years/{year}/target"][:]
            assert x.shape == (dim, dim, dim) and y.shape == (dim, dim, dim, 4)
            assert x.dtype == np.float32
            np.testing.assert_allclose(x, y.sum(axis=-1), rtol=1e-5, atol=1e-7)
            assert np.isfinite(y).all() and np.abs(y).max() > 0


def test_model_predictions_metrics_and_figures(tiny_run):
    res = tiny_run / "results"
    mdir = res / "models" / MODEL
    for name in ("model.keras", "checkpoints/best.weights.h5", "parameters.yaml"):
        assert (mdir / name).stat().st_size > 0, name
    with h5py.File(mdir / "training_log.h5") as f:
        epochs = len(f["loss"])
        assert 1 <= epochs <= 4 and 1 <= int(f.attrs["best_epoch"]) <= epochs
        assert np.isfinite(f["loss"][:]).all()
    with h5py.File(mdir / "predictions.h5") as f:
        for year in YEARS:
            p = f[f"years/{year}/prediction"][:]
            assert p.shape == (32, 32, 32, 4) and np.isfinite(p).all()
    rows = list(csv.DictReader((res / "metrics.csv").open()))
    methods = {r["method"] for r in rows}
    assert {"unet", "zero", "proportional"} <= methods
    test_rows = [r for r in rows if r["split"] == "test" and r["component"] in COMPONENTS]
    assert {r["component"] for r in test_rows} == set(COMPONENTS)
    for r in test_rows:
        value = float(r["rel_rms"])
        assert np.isfinite(value) and value >= 0
        if r["method"] == "zero":
            assert value == pytest.approx(1.0)
    assert "<table" in (res / "metrics.html").read_text()
    assert (res / "model_comparison.png").read_bytes()[:4] == b"\x89PNG"
    for fig in FIGURES:
        data = (mdir / "figures" / f"{fig}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, fig
    for fig in ("component_maps", "degree_amplitudes"):
        assert (res / f"synthetic/figures/{fig}.png").read_bytes()[:4] == b"\x89PNG"
    record = yaml.safe_load((res / "provenance/config.yaml").read_text())
    assert record["config"]["data"]["nmax"] == 15
    assert "commit" in record["code"] and record["packages"]["numpy"]


def test_nothing_to_do_after_a_full_run(tiny_run):
    result = snakemake(tiny_run, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_training_change_reruns_only_training_and_later(tiny_run):
    cfg = _config(**{"defaults.training.epochs": 5})
    path = _write_config(tiny_run, "changed-training.yaml", cfg)
    result = snakemake(tiny_run, "-n", configfile=path)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout + result.stderr)
    assert set(counts) == {
        "train", "predict", "evaluate", "figures", "export", "metrics_table", "provenance",
        "all",
    }  # fmt: skip


@pytest.mark.parametrize(
    "change", [{"defaults.dataset.nmax_flt": 10}, {"defaults.dataset.storage_dtype": "float64"}]
)
def test_dataset_change_reruns_dataset_and_later_only(tiny_run, change):
    cfg = _config(**change)
    path = _write_config(tiny_run, "changed-dataset.yaml", cfg)
    result = snakemake(tiny_run, "-n", configfile=path)
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout + result.stderr)
    assert "dataset" in counts and "train" in counts
    assert not {"store", "unpack", "windows", "anomalies", "synthetic_archive"} & set(counts)


def test_report_holds_figures_metrics_and_config(report_html):
    html = report_html.read_text(errors="replace")
    assert report_html.stat().st_size > 100_000
    for name in [*FIGURES, "component_maps", "metrics.html", "config.yaml"]:
        assert name in html, name


def test_repository_is_lint_clean():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "-s", str(REPO / "workflow/Snakefile")],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
