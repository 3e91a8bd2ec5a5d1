"""`snakemake apply` on a folder of real-format files: planned without training once the model
exists, then run (readers, TN-13/TN-14 corrections from pyshbundle's real files, prediction,
products); a model of another time step is refused at the configuration check."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from gravsep.formats.gsm import gsm_name, write_gsm
from workflow_helpers import job_counts, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow

NMAX = 15
APPLY_RULES = {"apply_prepare", "apply_predict", "apply_export", "apply_figures", "apply"}


def _notes():
    pyshbundle = pytest.importorskip("pyshbundle")
    folder = Path(pyshbundle.__file__).parent / "data" / "CSR_TN_files"
    return str(next(folder.glob("TN-13*"))), str(next(folder.glob("TN-14*")))


def _gsm_folder(folder):
    """Three months of 2003 as CSR-like GSM RL06 files (a static field plus a signal)."""
    folder.mkdir()
    rng = np.random.default_rng(4)
    for month in (1, 2, 3):
        start = np.datetime64(f"2003-{month:02d}", "M")
        s, e = start.astype("datetime64[s]"), (start + 1).astype("datetime64[s]")
        cs = rng.normal(scale=3e-11, size=(2, NMAX + 1, NMAX + 1)) * np.tri(NMAX + 1)[None]
        cs[1, :, 0] = 0.0
        cs[0, 2, 0] += -4.8416945732e-04
        write_gsm(folder / gsm_name(s, e), cs, None, s, e, 3.986004415e14, 6378136.3, title="t")
    return folder


def _run(workdir, cfg, *args):
    """Snakemake with targets: the config file goes last (``--configfile`` takes several)."""
    return snakemake(workdir, *args, "--configfile", cfg, configfile=None)


def _config(folder, deltat="month"):
    tn13, tn14 = _notes()
    cfg = tiny_config(**{"models": {"tiny": {"dataset": {"deltat": "month"}}}})
    cfg["apply"] = {
        "real": {
            "model": "tiny",
            "input": {"source": "files", "format": "gsm", "files": [str(folder)]},
            "processing": {"deltat": deltat, "nmax": NMAX, "nmax_flt": 12, "unit": "EWH",
                           "components": ["AO", "H", "I", "S"]},
            "corrections": {"c20": {"replace": True, "file": tn14},
                            "degree1": {"insert": True, "file": tn13}},
        }
    }  # fmt: skip
    return cfg


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workdir where the tiny monthly model exists (trained), and its config."""
    workdir = tmp_path_factory.mktemp("apply-run")
    cfg = write_config(workdir, "apply.yaml", _config(_gsm_folder(workdir / "gsm")))
    first = _run(workdir, cfg, "apply", "-n")
    assert first.returncode == 0, first.stderr[-3000:]
    counts = job_counts(first.stdout + first.stderr)
    assert counts["train"] == 1 and counts["dataset"] == 1  # the model does not exist yet
    model = _run(workdir, cfg, "results/models/tiny/model.keras",
                 "results/models/tiny/parameters.yaml")  # fmt: skip
    assert model.returncode == 0, model.stderr[-4000:]
    return workdir, cfg


def test_apply_plans_readers_corrections_and_prediction_only(trained):
    workdir, cfg = trained
    result = _run(workdir, cfg, "apply", "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout + result.stderr)
    assert set(counts) == APPLY_RULES, counts
    assert all(counts[r] == 1 for r in APPLY_RULES)


def test_apply_runs_and_writes_the_products(trained):
    workdir, cfg = trained
    result = _run(workdir, cfg, "apply")
    assert result.returncode == 0, result.stderr[-5000:]
    out = workdir / "results/apply/real"
    with xr.open_dataset(out / "separated.nc") as ds:
        assert ds.attrs["Conventions"] == "CF-1.8"
        assert ds["prediction_AO"].shape == (3, 32, 32) and "truth_AO" not in ds
        assert str(ds["time"].values[0].astype("datetime64[D]")) == "2003-01-16"
    report = (out / "corrections.yaml").read_text()
    assert "TN-14" in report and "TN-13" in report and "factor" in report
    summary = (out / "summary.html").read_text()
    assert "No truth is known" in summary and "Greenland" in summary
    assert (out / "figures/maps.png").read_bytes()[:4] == b"\x89PNG"


def test_a_model_of_another_time_step_is_refused(tmp_path):
    cfg = _config(_gsm_folder(tmp_path / "gsm"), deltat=168)
    result = _run(tmp_path, write_config(tmp_path, "c.yaml", cfg), "apply", "-n")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "apply.real.processing.deltat: the data's 168 differs from 'month'" in out, out[-2000:]
