"""Container definitions and conda envs: parse, no drift from pyproject, rule -> image/env."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from workflow_helpers import snakemake

REPO = Path(__file__).resolve().parents[1]
# The container tool is not part of the science package: it lives beside the definitions.
_spec = importlib.util.spec_from_file_location("images", REPO / "containers" / "images.py")
containers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(containers)


@pytest.mark.parametrize("kind", sorted(containers.KINDS))
def test_definition_parses_and_converts(kind):
    definition = REPO / containers.KINDS[kind][0]
    recipe = containers.parse_definition(definition)
    assert recipe.fromHeader  # a pinned base image
    assert ":" in recipe.fromHeader and "latest" not in recipe.fromHeader
    docker = containers.to_dockerfile(definition)
    assert docker.startswith("FROM " + recipe.fromHeader)
    assert "pip install --no-cache-dir --no-deps /opt/gravsep" in docker


def test_images_install_what_pyproject_declares():
    assert containers.drift(REPO) == {kind: [] for kind in containers.KINDS}


def _copy_sources(root):
    """pyproject.toml, the container definitions and the conda envs under ``root``."""
    (root / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    for path in [*(d for d, _, _ in containers.KINDS.values()), *containers.ENVS.values()]:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text((REPO / path).read_text())


def test_drift_is_detected(tmp_path):
    _copy_sources(tmp_path)
    for kind, (definition, _, _) in containers.KINDS.items():
        text = (REPO / definition).read_text()
        if kind == "cpu":
            text = text.replace(" cartopy", "")
        (tmp_path / definition).write_text(text)
    assert containers.drift(tmp_path) == {"cpu": ["cartopy"], "gpu": []}
    assert containers.main(["check", "--root", str(tmp_path)]) == 1


def test_envs_install_what_pyproject_declares():
    assert containers.drift(REPO, "env") == {kind: [] for kind in containers.KINDS}
    assert containers.main(["check", "--root", str(REPO)]) == 0


def test_env_drift_is_detected(tmp_path, capsys):
    """A package removed from an env file (conda or pip entry) fails the check."""
    _copy_sources(tmp_path)
    cpu, gpu = tmp_path / containers.ENVS["cpu"], tmp_path / containers.ENVS["gpu"]
    cpu.write_text(cpu.read_text().replace("  - cartopy\n", "").replace("- rocrate\n", ""))
    gpu.write_text(gpu.read_text().replace("- tensorflow[and-cuda]\n", ""))
    missing = {"cpu": ["cartopy", "rocrate"], "gpu": ["tensorflow"]}
    assert containers.drift(tmp_path, "env") == missing
    assert containers.drift(tmp_path) == {"cpu": [], "gpu": []}  # the images are untouched
    assert containers.main(["check", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "envs/cpu.yaml lacks cartopy, rocrate" in out and "envs/gpu.yaml lacks tensorflow" in out


def test_env_file_parsing(tmp_path):
    env = tmp_path / "env.yaml"
    env.write_text(
        textwrap.dedent(
            """\
            channels: [conda-forge]
            dependencies:
              - python=3.11
              - conda-forge::NumPy>=2
              - h5py 3.10.*
              - ruamel.yaml
              - pip
              - pip:
                  - tensorflow[and-cuda]>=2.16
                  - Foo_Bar==1
                  - --extra-index-url https://example.org
                  - -e ${GRAVSEP_REPO}
                  - ./local/pkg
            """
        )
    )
    assert containers.env_installs(env) == {
        "python", "numpy", "h5py", "ruamel-yaml", "pip", "tensorflow", "foo-bar",
    }  # fmt: skip


def test_pip_install_parsing():
    class Recipe:
        install = [
            "apt-get update && pip install -U 'numpy>=2' h5py_cache Foo.Bar[x] && echo done",
            "python -m pip install --no-deps /opt/pkg",
            'echo "python -c "import a; b"" >> /tests.sh',
        ]

    assert containers.pip_installs(Recipe) == {"numpy", "h5py-cache", "foo-bar"}


def test_dockerfile_command_writes_a_file(tmp_path):
    out = tmp_path / "cpu.Dockerfile"
    assert containers.main(["dockerfile", str(REPO / "containers/cpu.def"), "-o", str(out)]) == 0
    assert out.read_text().startswith("FROM python:3.11")


@pytest.mark.skipif(
    bool(shutil.which("apptainer") or shutil.which("singularity")), reason="apptainer present"
)
def test_build_without_apptainer_says_what_to_install(capsys):
    assert containers.main(["build", str(REPO / "containers/cpu.def"), "x.sif"]) == 1
    assert "apptainer" in capsys.readouterr().err


def _rule_blocks():
    """Rule name -> its text, from every rule file (each block runs to the next rule)."""
    blocks = {}
    for smk in (REPO / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=\s*rule )", smk.read_text()):
            name = re.match(r"\s*rule (\w+):", block)
            if name:
                blocks[name.group(1)] = block
    return blocks


def _images():
    """Rule name -> the kind of its ``container:`` image (None: no container)."""
    images = {}
    for rule, block in _rule_blocks().items():
        image = re.search(r'config\["containers"\]\["(\w+)"\]', block)
        images[rule] = image.group(1) if image else None
    return images


def test_every_rule_names_the_right_image():
    """Training and prediction run in the GPU image, every other rule in the CPU image."""
    images = _images()
    targets = {"all", "icgem_windows", "apply"}
    gpu = {"train", "predict", "predict_on", "apply_predict"}  # the rules that run the network
    assert {r for r, i in images.items() if i == "gpu"} == gpu
    assert all(i == "cpu" for r, i in images.items() if r not in targets | gpu)
    assert "store" in images and "dataset" in images


def test_every_rule_with_a_container_has_the_conda_env_of_its_kind():
    """`--sdm conda` gives each rule the env of its image's kind (``conda:`` by ``container:``)."""
    envs = {}
    for rule, block in _rule_blocks().items():
        env = re.findall(r'^\s*conda:\s*\n\s*"([^"]+)"', block, flags=re.M)
        assert len(env) <= 1, rule
        envs[rule] = env[0] if env else None
    images = _images()
    assert set(envs) == set(images) and "download" in envs
    for rule, kind in images.items():
        expected = None if kind is None else f"../{containers.ENVS[kind]}"
        assert envs[rule] == expected, rule
        if expected:  # relative to the rule file, as Snakemake reads it
            assert (REPO / "rules" / expected).resolve().is_file(), rule


def _pip_entries(env_file):
    spec = yaml.safe_load((REPO / env_file).read_text())
    return [r for d in spec["dependencies"] if isinstance(d, dict) for r in d.get("pip", [])]


def _pip_dry_run(requirements, workdir, env):
    """pip as conda runs it: the env's pip entries as a requirements file, in ``workdir``."""
    req = workdir / "condaenv.requirements.txt"
    req.write_text("\n".join(requirements) + "\n")
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index"]
    cmd += ["--no-build-isolation", "-r", str(req)]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("kind", sorted(containers.ENVS))
def test_env_installs_the_package_from_the_checkout_not_a_relative_path(kind, tmp_path):
    """Snakemake creates an env from its copy in .snakemake/conda/, where conda runs pip."""
    local = [r for r in _pip_entries(containers.ENVS[kind]) if containers._local(r)]
    assert local == ["-e ${GRAVSEP_REPO}"]
    copy_dir = tmp_path / ".snakemake" / "conda"
    copy_dir.mkdir(parents=True)
    env = {**os.environ, "GRAVSEP_REPO": str(REPO)}
    result = _pip_dry_run(local, copy_dir, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Would install gravsep" in result.stdout
    # what `-e ../` (relative to envs/) would have meant there
    relative = _pip_dry_run(["-e ../"], copy_dir, env)
    assert relative.returncode != 0 and "does not appear to be a Python project" in relative.stderr


def test_snakemake_creates_the_envs_with_the_checkout(tmp_path, monkeypatch):
    """`--sdm conda --conda-create-envs-only` with a stand-in conda (tests/fake_conda.py)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "conda-calls.jsonl"
    bin_dir.mkdir()
    conda = bin_dir / "conda"
    conda.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{REPO}/tests/fake_conda.py" "$@"\n')
    conda.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CONDA_LOG", str(log))
    monkeypatch.setenv("FAKE_CONDA_ROOT", str(tmp_path))
    monkeypatch.delenv("GRAVSEP_REPO", raising=False)  # the workflow sets it
    workdir = tmp_path / "run"
    workdir.mkdir()
    result = snakemake(workdir, "--sdm", "conda", "--conda-create-envs-only")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == len(containers.ENVS)  # one env per kind, shared by its rules
    for call in calls:
        # created from Snakemake's copy of the env file, not from envs/
        assert Path(call["file"]).parent == workdir / ".snakemake" / "conda"
        assert call["repo"] == str(REPO) and call["rc"] == 0
        assert "Would install gravsep" in call["out"]
