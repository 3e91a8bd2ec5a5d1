"""The benchmarks run and print their figures (smoke tests at small sizes; no timing asserted).

The figures themselves are meaningless at these sizes; what is checked is that each benchmark
still runs against the current code, checks its results (bit-identical readers, equal
samples) and prints its last line in the documented form.
"""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(tmp_path, *args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out.stdout.strip().splitlines()


def ratio(text):
    value = float(text)
    assert math.isfinite(value) and value > 0, text
    return value


def test_bench_ingest_quick(tmp_path):
    lines = run(tmp_path, "benchmarks/bench_ingest.py", "--quick", "--workdir", str(tmp_path))
    assert any("results bit-identical" in ln for ln in lines)
    last = re.fullmatch(r"reader_ratio=([\d.]+)x pipeline_ratio=([\d.]+)x", lines[-1])
    assert last, lines[-1]
    ratio(last[1]), ratio(last[2])


def test_bench_dataset_quick(tmp_path):
    lines = run(tmp_path, "benchmarks/bench_dataset.py", "--quick", "--workdir", str(tmp_path))
    last = re.fullmatch(r"dataset_ratio=([\d.]+)x peak_mib=(\d+)", lines[-1])
    assert last, lines[-1]
    ratio(last[1])
    assert int(last[2]) > 0


def test_bench_training_small(tmp_path):
    lines = run(
        tmp_path, "benchmarks/bench_training.py", "--dim", "32", "--repeats", "1", "--epochs", "1",
        "--full-dim", "32", "--full-steps", "1",
    )  # fmt: skip
    form = (r"ratios: epoch speed-up ([\d.]+)x .*; input-pipeline overhead ([+-]?[\d.]+) % .*; "
            r"sphere options full-size step ([\d.]+)x the paper's .*")  # fmt: skip
    last = re.fullmatch(form, lines[-1])
    assert last, lines[-1]
    ratio(last[1])
    assert math.isfinite(float(last[2]))
    ratio(last[3])
    assert any(ln.startswith("(d) full-size step on CPU") for ln in lines), lines


def test_bench_bombs_quick(tmp_path):
    lines = run(tmp_path, "benchmarks/bench_bombs.py", "--quick", "--workdir", str(tmp_path))
    assert any(ln.startswith("clean") and "stored 1460 files" in ln for ln in lines)
    assert sum("refused:" in ln for ln in lines) == 7, lines  # every bomb kind refused
    last = re.fullmatch(r"peak_ratio=([\d.]+)x", lines[-1])
    assert last, lines[-1]
    ratio(last[1])
