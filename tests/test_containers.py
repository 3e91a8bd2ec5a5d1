"""Container definitions: parse with spython, no drift from pyproject, rule -> image mapping."""

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

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


def test_drift_is_detected(tmp_path):
    (tmp_path / "containers").mkdir()
    for kind, (definition, _, _) in containers.KINDS.items():
        text = (REPO / definition).read_text()
        if kind == "cpu":
            text = text.replace(" cartopy", "")
        (tmp_path / definition).write_text(text)
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    assert containers.drift(tmp_path) == {"cpu": ["cartopy"], "gpu": []}
    assert containers.main(["check", "--root", str(tmp_path)]) == 1


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


def test_every_rule_names_the_right_image():
    """Training and prediction run in the GPU image, every other rule in the CPU image."""
    images = {}
    for smk in (REPO / "rules").glob("*.smk"):
        text = smk.read_text()
        for block in re.split(r"\n(?=\s*rule )", text):
            name = re.match(r"\s*rule (\w+):", block)
            if not name:
                continue
            image = re.search(r'config\["containers"\]\["(\w+)"\]', block)
            images[name.group(1)] = image.group(1) if image else None
    targets = {"all", "icgem_windows"}
    assert {r for r, i in images.items() if i == "gpu"} == {"train", "predict"}
    assert all(i == "cpu" for r, i in images.items() if r not in targets | {"train", "predict"})
    assert "unpack" in images and "dataset" in images
