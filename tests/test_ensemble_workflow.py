"""Ensembles in the workflow (tests/configs/ensemble.yaml: three small members): each member is
its own train job (a GPU job under profiles/slurm), a killed member is all a rerun retrains,
and the ensemble's products carry its spread."""

import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import REPO, job_counts, snakemake, tiny_config, write_config

pytestmark = pytest.mark.workflow

ENSEMBLE = REPO / "tests" / "configs" / "ensemble.yaml"
MEMBERS = ["ens/members/m1", "ens/members/m2", "ens/members/m3"]
GPU_RULES = {"train", "predict", "predict_on", "apply_predict"}


def _dry(workdir, *args, configfile=ENSEMBLE):
    result = snakemake(workdir, "-n", *args, configfile=configfile)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def _train_wildcards(output):
    """The {model} of every planned train job."""
    blocks = re.findall(r"^rule train:\n((?:    .*\n)+)", output, flags=re.M)
    return sorted(m for b in blocks for m in re.findall(r"wildcards: model=(\S+)", b))


def test_a_dry_run_plans_one_train_job_per_member(tmp_path):
    out = _dry(tmp_path)
    counts = job_counts(out)
    assert counts["train"] == 3 and counts["predict"] == 1
    assert counts["calibration"] == 1 and counts["calibration_table"] == 1
    assert _train_wildcards(out) == MEMBERS


def test_under_slurm_members_are_gpu_jobs_and_nothing_else_is(tmp_path):
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    gpu = {r for r, res in profile["set-resources"].items() if int(res.get("gpu", 0) or 0) > 0}
    assert gpu == GPU_RULES
    counts = job_counts(_dry(tmp_path))
    planned_gpu = {r for r in counts if r in gpu}
    assert planned_gpu == {"train", "predict"}, counts  # 3 train jobs, one per member
    assert counts["train"] == 3
    assert not {"calibration", "calibration_table", "evaluate", "export"} & gpu


def test_a_single_network_is_planned_as_before(tmp_path):
    cfg = tiny_config()
    path = write_config(tmp_path, "single.yaml", cfg)
    out = _dry(tmp_path, configfile=path)
    assert _train_wildcards(out) == ["tiny"]
    assert "calibration" not in job_counts(out)


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ensemble-run")
    result = snakemake(workdir, configfile=ENSEMBLE)
    if result.returncode != 0:
        pytest.fail("the ensemble workflow failed:\n" + result.stderr[-8000:])
    return workdir


def test_members_differ_in_seed_and_weights(ensemble_run):
    seeds = [
        yaml.safe_load((ensemble_run / "results/models" / m / "parameters.yaml").read_text())
        for m in MEMBERS
    ]
    assert [p["training"]["seed"] for p in seeds] == [1, 2, 3]
    assert all("ensemble" not in p["training"] for p in seeds)


def test_calibration_and_members_tables(ensemble_run):
    cal = pd.read_csv(ensemble_run / "results" / "calibration.csv")
    assert list(cal.columns) == ["model", "split", "component", "spread_skill", "coverage_68",
                                 "coverage_95", "crps", "scale", "floor"]  # fmt: skip
    assert len(cal) == 2 * 4 and set(cal["split"]) == {"validation", "test"}
    assert (cal["scale"] >= 0).all() and (cal["floor"] >= 0).all()
    assert (cal["scale"] + cal["floor"] > 0).all()
    assert (cal["spread_skill"] > 0).all() and (cal["crps"] > 0).all()
    members = pd.read_csv(ensemble_run / "results" / "models" / "ens" / "members.csv")
    assert set(members["member"]) == {"m1", "m2", "m3", "mean"}
    table = members.pivot_table(index=["split", "component"], columns="member", values="rel_rms")
    # the mean's error is never above the members' mean error (convexity of the RMS)
    assert (table["mean"] <= table[["m1", "m2", "m3"]].mean(axis=1) + 1e-6).all(), table


def test_spread_is_exported(ensemble_run):
    import xarray as xr

    export = ensemble_run / "results" / "models" / "ens" / "export"
    with xr.open_dataset(export / "separated.nc") as ds:
        for comp in ("AO", "H", "I", "S"):
            assert ds[f"prediction_{comp}"].attrs["ancillary_variables"] == f"spread_{comp}"
            assert float(ds[f"spread_{comp}"].min()) >= 0
            assert float(ds[f"spread_{comp}"].max()) > 0
        assert int(ds.attrs["ensemble_members"]) == 3
    with tarfile.open(export / "separated_icgem.tar.gz") as tar:
        name = next(n for n in tar.getnames() if n.startswith("AO/"))
        text = tar.extractfile(name).read().decode()
    lines = [ln.split() for ln in text.splitlines() if ln.startswith("gfc")]
    assert lines and all(len(ln) == 7 for ln in lines)  # gfc n m C S sigma_C sigma_S
    assert "errors formal" in text
    assert any(float(ln[5].replace("D", "E")) > 0 for ln in lines)


def _state_files(folder):
    return list((Path(folder) / "state").glob("epoch-*.h5"))


def test_a_killed_member_is_all_a_rerun_retrains(ensemble_run):
    models = ensemble_run / "results" / "models"
    before = {m: (models / m / "model.keras").stat().st_mtime_ns for m in MEMBERS}
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "workflow" / "Snakefile"),
           "--directory", str(ensemble_run), "--cores", "1", "--configfile", str(ENSEMBLE),
           "--forcerun", "results/models/ens/members/m2/model.keras"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ensemble_run, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    t0 = time.monotonic()
    while not _state_files(models / "ens/members/m2"):  # m2's training has an epoch behind it
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() - t0 < 600, "m2's training never started"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert snakemake(ensemble_run, "--unlock", configfile=ENSEMBLE).returncode == 0  # its lock
    assert not (models / "ens/members/m2/model.keras").exists()
    out = _dry(ensemble_run, "--rerun-incomplete")
    assert _train_wildcards(out) == ["ens/members/m2"]
    result = snakemake(ensemble_run, "--rerun-incomplete", configfile=ENSEMBLE)
    assert result.returncode == 0, result.stderr[-4000:]
    after = {m: (models / m / "model.keras").stat().st_mtime_ns for m in MEMBERS}
    assert after["ens/members/m1"] == before["ens/members/m1"]
    assert after["ens/members/m3"] == before["ens/members/m3"]
    assert after["ens/members/m2"] > before["ens/members/m2"]
    assert "Nothing to be done" in _dry(ensemble_run)


def test_adding_a_member_trains_only_that_member(ensemble_run):
    cfg = yaml.safe_load(ENSEMBLE.read_text())
    cfg["models"]["ens"]["training"]["ensemble"]["members"] = 4
    path = write_config(ensemble_run, "four.yaml", cfg)
    out = _dry(ensemble_run, configfile=path)
    assert _train_wildcards(out) == ["ens/members/m4"]


def test_identical_members_have_zero_spread(ensemble_run, tmp_path):
    from gravsep.formats.predictions import Predictions
    from gravsep.formats.samples import Samples
    from gravsep.network.inference import predict

    m1 = ensemble_run / "results" / "models" / "ens" / "members" / "m1"
    dataset = next((ensemble_run / "results" / "datasets").glob("*/samples.h5"))
    out = tmp_path / "same.h5"
    predict([m1 / "model.keras"] * 3, dataset, out, parameters_path=[m1 / "parameters.yaml"] * 3)
    with Samples(dataset) as s, Predictions(out, s) as p:
        assert p.is_ensemble and p.members == 3
        year = s.split_years("test")[0]
        assert not np.any(p.spread(year)[()])
        assert not np.any(p.spread_cube(year))


def test_mc_dropout_passes_differ_and_repeat(ensemble_run, tmp_path):
    from gravsep.formats.predictions import Predictions
    from gravsep.formats.samples import Samples
    from gravsep.network.inference import predict

    m1 = ensemble_run / "results" / "models" / "ens" / "members" / "m1"
    dataset = next((ensemble_run / "results" / "datasets").glob("*/samples.h5"))
    spreads = []
    for name in ("a.h5", "b.h5"):
        predict(m1 / "model.keras", dataset, tmp_path / name, inference_mode="mc_dropout",
                mc_passes=3, seed=5)  # fmt: skip
        with Samples(dataset) as s, Predictions(tmp_path / name, s) as p:
            assert p.is_ensemble and (p.members, p.mc_passes) == (1, 3)
            year = s.split_years("test")[0]
            spreads.append(p.spread(year)[()])
    assert spreads[0].max() > 0  # dropout draws differ between passes
    np.testing.assert_array_equal(spreads[0], spreads[1])  # and repeat with the seed
