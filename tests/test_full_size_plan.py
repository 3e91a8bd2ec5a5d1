"""The paper's set-up (config/esa_esm.yaml) plans offline, locally and on SLURM."""

import re
import subprocess
import sys

import pytest
from workflow_helpers import REPO, job_counts

YEARS, LETTERS = 12, 5


def _plan(*args):
    cmd = [sys.executable, "-m", "snakemake", "-n", "--configfile", "config/esa_esm.yaml", *args]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _resources(output):
    """Rule -> list of resource lines of its jobs in a dry run."""
    found = {}
    for block in output.split("\nrule ")[1:]:
        name = block.split(":", 1)[0].strip()
        line = re.search(r"^\s*resources: (.*)$", block, re.M)
        found.setdefault(name, []).append(line.group(1) if line else "")
    return found


def test_full_size_plan_downloads_every_archive_without_network():
    counts = job_counts(_plan())
    assert counts["download"] == counts["store"] == YEARS * LETTERS
    assert counts["combine"] == counts["windows"] == counts["anomalies"] == YEARS * 4
    assert counts["train"] == counts["predict"] == 1
    assert "synthetic_archive" not in counts


@pytest.mark.parametrize("profile", ["profiles/slurm"])
def test_slurm_plan_gives_a_gpu_to_training_only(profile):
    output = _plan("--profile", profile)
    resources = _resources(output)
    assert job_counts(output)["download"] == YEARS * LETTERS
    for rule, lines in resources.items():
        for line in lines:
            if rule in ("train", "predict"):
                assert "gpu=1" in line and "slurm_partition=gpu" in line, (rule, line)
            else:
                assert "gpu=" not in line, (rule, line)
    assert "runtime=720" in resources["train"][0] and "mem_mb=32000" in resources["train"][0]


@pytest.mark.parametrize(("configfile", "model"), [("config/config.yaml", "hybrid"),
                                                   ("config/ablation.yaml", "sphere")])  # fmt: skip
def test_sphere_models_plan_with_a_gpu_for_training_and_prediction_only(configfile, model):
    """The sphere options and the linear head (issue 14) change no rule: on SLURM only
    training and prediction (predict, predict_on, apply_predict) ask for a GPU, also for the
    `hybrid` model of the default and the ablation's `sphere`."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "--configfile", configfile,
           "--profile", "profiles/slurm"]  # fmt: skip
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert f"models/{model}/model.keras" in output
    for rule, lines in _resources(output).items():
        for line in lines:
            if rule in ("train", "predict", "predict_on", "apply_predict"):
                assert "gpu=1" in line, (rule, line)
            else:
                assert "gpu=" not in line, (rule, line)
