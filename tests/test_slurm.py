"""`snakemake --profile profiles/slurm` on a real single-node SLURM cluster.

The session fixture starts a SLURM cluster on 127.0.0.1 (tests/slurm/cluster.py: slurm-wlm,
munge, slurmdbd on MariaDB so that sacct works, partitions ``cpu`` and ``gpu``, one GPU
generic resource backed by a fake character device), runs a small configuration
(tests/configs/slurm.yaml) through the profile as real users would, and checks from sacct that
every job completed, that only the rules the profile gives a GPU asked for and got one
(training among them), and that the outputs equal those of a local run of the same
configuration. No containers: the profile's apptainer switch is not used here.

Where the cluster cannot be installed (not root, apt-get fails) the tests are skipped with the
reason; with ``CI=true`` they fail instead.
"""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent / "slurm"))
from cluster import Cluster, ClusterError, ClusterUnavailable  # noqa: E402

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm"
CONFIG = REPO / "tests" / "configs" / "slurm.yaml"
SNAKEFILE = REPO / "workflow" / "Snakefile"
MODEL = "tiny"
TIMEOUT = 900

# Test-only command-line settings; none of them replaces a key the profile sets per rule.
SLURM_TEST_ARGS = [
    # First status check 2 s after a submission; the plugin then waits 10 s longer after every
    # check that finds nothing finished (2, 14, 36 s, ...): most stages here end within 14 s,
    # so the chain's 13 stages take about 3 minutes.
    "--slurm-init-seconds-before-status-checks", "2",
    "--latency-wait", "5",  # local file system: no need for the profile's 60 s
    "--slurm-keep-successful-logs",  # for the failure message
]  # fmt: skip


def _profile():
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


def _gpu_rules(profile):
    """Rules the profile gives a GPU (``gpu`` or ``gres`` with gpu in set-resources)."""
    rules = {}
    for rule, res in (profile.get("set-resources") or {}).items():
        if int(res.get("gpu", 0) or 0) > 0 or "gpu" in str(res.get("gres", "")):
            rules[rule] = res
    return rules


def _node_size(profile):
    """CPUs and MB the test node must advertise so that every request of the profile fits."""
    requests = [
        profile.get("default-resources") or {},
        *(profile.get("set-resources") or {}).values(),
    ]
    cpus = max(int(r.get("cpus_per_task", 1)) for r in requests)
    mem = max(int(r.get("mem_mb", 1000)) for r in requests)
    return max(cpus, os.cpu_count() or 1), mem


def _env():
    env = dict(os.environ)
    env.pop("SLURM_CONF", None)  # the cluster's config is at the default path
    # the jobs and the scripts must run with this interpreter's packages
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}:/usr/sbin"
    env["MPLBACKEND"] = "Agg"
    return env


def _snakemake(workdir, *args):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
           "--configfile", str(CONFIG), *map(str, args)]  # fmt: skip
    return cmd


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A running single-node SLURM cluster; stopped (daemons by pid, reverse order) after."""
    cpus, mem = _node_size(_profile())
    cluster = Cluster(tmp_path_factory.mktemp("slurm-cluster"), cpus=cpus, real_memory=mem)
    t0 = time.monotonic()
    try:
        cluster.start()
    except ClusterUnavailable as err:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the SLURM test cluster cannot be set up: {err}")
        pytest.skip(f"SLURM test cluster unavailable: {err}")
    except ClusterError as err:
        pytest.fail(f"the SLURM test cluster did not start: {err}")
    print(
        f"\nSLURM test cluster (install if needed, start, node idle): {time.monotonic() - t0:.0f} s"
    )
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def runs(slurm_cluster, tmp_path_factory):
    """The configuration run through the SLURM profile and, meanwhile, locally.

    Returns (slurm working folder, local working folder, sacct rows of the SLURM run, Snakemake's
    output). The local run gets the profile's thread counts (set-threads) and ``--cores all``,
    as each SLURM job step does, so that training sees the same TensorFlow thread pools; it
    runs at the lowest priority, on the CPU time the SLURM run leaves idle while it waits.
    """
    profile = _profile()
    slurm_dir = tmp_path_factory.mktemp("slurm-run")
    local_dir = tmp_path_factory.mktemp("local-run")
    threads = [f"{r}={n}" for r, n in (profile.get("set-threads") or {}).items()]
    local_cmd = _snakemake(local_dir, "--cores", "all", "results/metrics.csv",  # no figures
                           *(["--set-threads", *threads] if threads else []))  # fmt: skip
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 2))
    # the local run works while the SLURM run mostly waits on status checks
    local_log = open(local_dir / "snakemake.out", "w")
    local = subprocess.Popen(local_cmd, cwd=local_dir, env=_env(), stdout=local_log,
                             stderr=subprocess.STDOUT, preexec_fn=lambda: os.nice(19))  # fmt: skip
    t0 = time.monotonic()
    try:
        res = subprocess.run(
            _snakemake(slurm_dir, "--profile", PROFILE, *SLURM_TEST_ARGS),
            cwd=slurm_dir, env=_env(), capture_output=True, text=True, timeout=TIMEOUT,
        )  # fmt: skip
        slurm_s = time.monotonic() - t0
        local.wait(timeout=TIMEOUT)
        both_s = time.monotonic() - t0
    finally:
        if local.poll() is None:
            local.kill()
            local.wait()
        local_log.close()
    print(f"snakemake --profile profiles/slurm: {slurm_s:.0f} s; local reference run done "
          f"after {both_s:.0f} s")  # fmt: skip
    if res.returncode != 0:
        logs = sorted((slurm_dir / ".snakemake" / "slurm_logs").rglob("*.log"))
        tails = "".join(f"\n--- {p.relative_to(slurm_dir)} ---\n"
                        + p.read_text(errors="replace")[-1500:] for p in logs[-3:])  # fmt: skip
        pytest.fail(f"snakemake --profile profiles/slurm failed ({res.returncode}):\n"
                    f"{res.stderr[-6000:]}{tails}\n{_sacct(slurm_cluster, start)}")  # fmt: skip
    if local.returncode != 0:
        pytest.fail("the local reference run failed:\n"
                    + (local_dir / "snakemake.out").read_text()[-6000:])  # fmt: skip
    rows = [r for r in _sacct_rows(slurm_cluster, start) if Path(r["WorkDir"]) == slurm_dir]
    print(_sacct(slurm_cluster, start))
    return slurm_dir, local_dir, rows, res.stdout + res.stderr


SACCT_FIELDS = ["JobID", "JobName", "Comment", "Partition", "State", "ExitCode", "WorkDir",
                "ReqTRES", "AllocTRES"]  # fmt: skip


def _sacct_rows(cluster, start):
    out = subprocess.run(
        ["sacct", "-a", "-X", "-P", "-n", "-S", start, "-o", ",".join(SACCT_FIELDS)],
        env=cluster.env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [dict(zip(SACCT_FIELDS, line.split("|"), strict=True))
            for line in out.splitlines() if line.strip()]  # fmt: skip


def _sacct(cluster, start):
    """sacct's table of the jobs since ``start``, for messages."""
    return subprocess.run(
        ["sacct", "-a", "-X", "-S", start, "-o",
         "JobID%5,Comment%38,Partition%9,State,ExitCode,Start,Elapsed,ReqTRES%44,AllocTRES%34"],
        env=cluster.env, capture_output=True, text=True,
    ).stdout  # fmt: skip


def _rule(row):
    """Rule name from the job comment the executor sets (``rule_<name>[_wildcards_...]``)."""
    return row["Comment"].removeprefix("rule_").split("_wildcards_")[0]


def _expected_jobs(workdir):
    """Rule -> number of jobs the workflow has for the configuration (from a dry run)."""
    res = subprocess.run(
        _snakemake(workdir, "-n", "--forceall", "--cores", "1", "--quiet", "rules"),
        cwd=workdir, env=_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    counts = {}
    for line in (res.stdout + res.stderr).split("Job stats:", 1)[1].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            counts[parts[0]] = int(parts[1])
    return counts


def test_every_job_ran_on_slurm_and_completed(runs):
    slurm_dir, _, rows, _ = runs
    expected = _expected_jobs(slurm_dir)
    expected.pop("all", None)  # a local rule: the target, no SLURM job
    seen = {}
    for row in rows:
        seen[_rule(row)] = seen.get(_rule(row), 0) + 1
    assert seen == expected, f"SLURM jobs per rule {seen}, workflow jobs {expected}"
    failed = [r for r in rows if r["State"] != "COMPLETED" or r["ExitCode"] != "0:0"]
    assert not failed, f"jobs that did not complete: {failed}"


def test_only_the_profiles_gpu_rules_got_a_gpu(runs):
    slurm_dir, _, rows, _ = runs
    profile = _profile()
    gpu_rules = _gpu_rules(profile)
    assert "train" in gpu_rules, "the profile must give training a GPU"
    cpu_partition = profile["default-resources"]["slurm_partition"]
    for row in rows:
        rule = _rule(row)
        if rule in gpu_rules:
            assert "gres/gpu=1" in row["ReqTRES"].split(","), row
            assert "gres/gpu=1" in row["AllocTRES"].split(","), row
            assert row["Partition"] == gpu_rules[rule].get("slurm_partition", cpu_partition), row
        else:
            assert "gres/gpu" not in row["ReqTRES"] + row["AllocTRES"], row
            assert row["Partition"] == cpu_partition, row
    # the GPU rules this configuration has jobs for (predict_on only with cross-evaluation)
    planned = set(gpu_rules) & set(_expected_jobs(slurm_dir))
    assert {"train", "predict"} <= planned, f"the configuration must train and predict: {planned}"
    assert {_rule(r) for r in rows} >= planned, "every planned GPU rule ran as a SLURM job"


#: Datasets that hold wall-clock times, which differ between any two runs.
TIMINGS = ("epoch_seconds",)


def _h5_arrays(path):
    arrays = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and name.rsplit("/", 1)[-1] not in TIMINGS:
            arrays[name] = obj[()]

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return arrays


def _assert_h5_equal(a, b):
    xa, xb = _h5_arrays(a), _h5_arrays(b)
    assert xa.keys() == xb.keys(), (a, sorted(xa), sorted(xb))
    for name in xa:
        va, vb = np.asarray(xa[name]), np.asarray(xb[name])
        assert va.dtype == vb.dtype and va.shape == vb.shape, (a, name)
        if va.dtype.kind == "f":
            assert np.array_equal(va, vb, equal_nan=True), f"{a}: {name} differs"
        else:
            assert np.array_equal(va, vb), f"{a}: {name} differs"


# Data stages: deterministic numpy code, compared bitwise.
DATA_STAGES = ["results/ingest/store", "results/preprocess/windows",
               "results/preprocess/anomalies", "results/datasets"]  # fmt: skip
# Model stages: TensorFlow on CPU with a fixed seed and the same thread counts, also bitwise.
MODEL_FILES = [f"results/models/{MODEL}/checkpoints/best.weights.h5",
               f"results/models/{MODEL}/training_log.h5",
               f"results/models/{MODEL}/predictions.h5",
               f"results/models/{MODEL}/evaluation.h5"]  # fmt: skip


def test_data_stages_equal_a_local_run_bitwise(runs):
    slurm_dir, local_dir, _, _ = runs
    files = sorted(p.relative_to(local_dir) for stage in DATA_STAGES
                   for p in (local_dir / stage).rglob("*.h5"))  # fmt: skip
    assert any("datasets" in str(p) for p in files)
    assert files == sorted(p.relative_to(slurm_dir) for stage in DATA_STAGES
                           for p in (slurm_dir / stage).rglob("*.h5"))  # fmt: skip
    for rel in files:
        _assert_h5_equal(slurm_dir / rel, local_dir / rel)


def test_model_outputs_and_metrics_equal_a_local_run(runs):
    slurm_dir, local_dir, _, _ = runs
    for rel in MODEL_FILES:
        _assert_h5_equal(slurm_dir / rel, local_dir / rel)
    with open(slurm_dir / "results/metrics.csv") as f:
        slurm_rows = list(csv.reader(f))
    with open(local_dir / "results/metrics.csv") as f:
        local_rows = list(csv.reader(f))
    assert len(slurm_rows) > 1
    assert slurm_rows == local_rows
