"""Running the workflow in a scratch folder (shared by the workflow tests and fixtures)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"


def snakemake(workdir, *args, configfile=TINY, timeout=1800):
    """Run Snakemake on the repository's workflow in ``workdir``; return the CompletedProcess."""
    env = dict(os.environ)
    # the scripts must run with this interpreter's packages
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("MPLBACKEND", "Agg")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "workflow" / "Snakefile")]
    cmd += ["--directory", str(workdir), "--cores", "2"]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    cmd += [str(a) for a in args]
    return subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=workdir, check=False
    )


def job_counts(output):
    """Rule -> job count from Snakemake's 'Job stats' table."""
    counts = {}
    block = output.split("Job stats:", 1)[-1].split("Reasons:", 1)[0]
    for line in block.splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s+(\d+)\s*$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


def tiny_config(**changes):
    """The tiny configuration with dotted-key changes (``{"data.nmax": 4}``)."""
    cfg = yaml.safe_load(TINY.read_text())
    for path, value in changes.items():
        node = cfg
        *head, last = path.split(".")
        for key in head:
            node = node.setdefault(key, {})
        node[last] = value
    return cfg


def write_config(folder, name, cfg, sort_keys=False):
    """Write ``cfg`` as YAML to ``folder/name``; return the path."""
    path = Path(folder) / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=sort_keys))
    return path
