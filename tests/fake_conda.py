"""A stand-in for the ``conda`` command, for Snakemake's ``--sdm conda --conda-create-envs-only``.

It answers the checks Snakemake makes (version, info, channel priority, clean) and, for
``conda env create --file F --prefix P``, does what conda's pip installer does with the env's
local pip entries (``-e ...``): writes them to a requirements file in the folder of ``F`` and
runs pip there (``pip install --dry-run --no-deps --no-index``: nothing is installed). Each
``env create`` appends one JSON line to ``$FAKE_CONDA_LOG``: the file, ``$GRAVSEP_REPO``, pip's
exit status and output.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml


def create(file, prefix):
    spec = yaml.safe_load(Path(file).read_text())
    pip = [r for d in spec["dependencies"] if isinstance(d, dict) for r in d.get("pip", [])]
    workdir = Path(file).resolve().parent  # conda/env/installers/pip.py: dirname(file)
    req = workdir / "condaenv.requirements.txt"
    req.write_text("\n".join(r for r in pip if r.startswith("-e")) + "\n")
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index"]
    cmd += ["--no-build-isolation", "-r", str(req)]
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    req.unlink()
    record = {
        "file": file,
        "repo": os.environ.get("GRAVSEP_REPO"),
        "rc": result.returncode,
        "out": result.stdout + result.stderr,
    }
    with open(os.environ["FAKE_CONDA_LOG"], "a") as f:
        f.write(json.dumps(record) + "\n")
    if result.returncode:
        sys.exit(result.stdout + result.stderr)
    Path(prefix).mkdir(parents=True)


def main(args):
    if args == ["--version"]:
        print("conda 24.7.1")
    elif args[:2] == ["info", "--json"]:
        print(json.dumps({"conda_prefix": os.environ["FAKE_CONDA_ROOT"], "platform": "linux-64"}))
    elif args[:2] == ["config", "--get"]:
        print(json.dumps({"get": {"channel_priority": "strict"}}))
    elif args[:1] == ["clean"]:
        pass
    elif args[:2] == ["env", "create"]:
        create(args[args.index("--file") + 1], args[args.index("--prefix") + 1])
    else:
        sys.exit(f"fake conda: unexpected arguments {args}")


if __name__ == "__main__":
    main(sys.argv[1:])
