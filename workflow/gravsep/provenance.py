"""Provenance records: resolved configuration, code version and package versions."""

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

#: Packages whose versions are recorded.
PACKAGES = ["gravsep", "numpy", "h5py", "pyshtools", "tensorflow", "tensorflow-cpu", "keras",
            "pandas", "matplotlib", "cartopy", "snakemake", "xarray"]  # fmt: skip


def package_versions(names=PACKAGES):
    """Installed versions of ``names`` (absent packages left out)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


#: The repository this package lives in (``workflow/gravsep`` -> the repository root).
CODE_ROOT = Path(__file__).resolve().parents[2]


def code_version(path=None):
    """Git commit of the working tree at ``path`` and whether it has uncommitted changes.

    ``path`` defaults to the repository of this code, not the current folder: Snakemake runs
    the jobs in its working directory (``--directory``), which may be outside the repository
    or inside another one, whose commit would be recorded instead.
    """
    path = CODE_ROOT if path is None else path
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=path, capture_output=True, text=True, check=True,
            ).stdout.strip()
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": dirty}


def write_config_record(path, config, models, datasets):
    """Write the configuration, each model's resolved definition and the software versions."""
    record = {
        "config": config,
        "resolved_models": models,
        "model_datasets": datasets,
        "code": code_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(yaml.safe_dump(_plain(record), sort_keys=False))
    os.replace(tmp, path)


def _plain(obj):
    """Snakemake's config objects as plain dicts and lists for YAML."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
