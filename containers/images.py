"""Container definitions: Dockerfiles for Docker/Podman users, .sif builds, drift checks.

The Apptainer definitions ``containers/cpu.def`` (every step but training and prediction) and
``containers/gpu.def`` (training and prediction) are the source; spython converts them to
Dockerfiles and, where apptainer or singularity is installed, builds the images. The conda
environments ``envs/cpu.yaml`` and ``envs/gpu.yaml`` (``--sdm conda``) are held to the same
list of packages by the same check.

Command line::

    python containers/images.py dockerfile containers/cpu.def [-o containers/cpu.Dockerfile]
    python containers/images.py build containers/cpu.def gravsep-cpu.sif
    python containers/images.py check    # each image and conda env installs what pyproject declares
"""

import argparse
import re
import shlex
import shutil
import sys
import tomllib
from pathlib import Path

import yaml

#: Step kind -> (definition file, pyproject groups it must install, packages its base provides).
#: The packages the base provides are needed all the same: the conda environment lists them.
KINDS = {
    "cpu": ("containers/cpu.def", ["dependencies", "cpu"], set()),
    "gpu": ("containers/gpu.def", ["dependencies"], {"tensorflow"}),
}

#: Step kind -> conda environment file (``--sdm conda``), checked against the same packages.
ENVS = {"cpu": "envs/cpu.yaml", "gpu": "envs/gpu.yaml"}


def parse_definition(path):
    """The spython recipe of an Apptainer definition (the one stage it holds)."""
    from spython.main.parse.parsers import SingularityParser

    recipes = SingularityParser(str(path)).recipe
    if len(recipes) != 1:
        raise ValueError(f"{path}: expected one stage, found {sorted(recipes)}")
    return next(iter(recipes.values()))


def to_dockerfile(path):
    """Dockerfile text of an Apptainer definition (spython's DockerWriter)."""
    from spython.main.parse.parsers import SingularityParser
    from spython.main.parse.writers import DockerWriter

    return DockerWriter(SingularityParser(str(path)).recipe).convert()


def _name(requirement):
    """Normalised distribution name of a requirement string ('pyshtools>=4' -> 'pyshtools')."""
    name = re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_installs(recipe):
    """Names of the packages a recipe's ``pip install`` lines install (paths left out)."""
    names = set()
    for line in recipe.install:
        if "pip" not in line:
            continue
        try:
            tokens = shlex.split(line)
        except ValueError:  # e.g. the %test lines spython folds into echo commands
            continue
        commands, current = [], []
        for token in tokens:
            if token in ("&&", ";", "||"):
                commands.append(current)
                current = []
            else:
                current.append(token)
        commands.append(current)
        for words in commands:
            if "pip" not in [Path(w).name for w in words[:3]] or "install" not in words:
                continue
            for word in words[words.index("install") + 1 :]:
                if word.startswith("-") or "/" in word or word == ".":
                    continue
                names.add(_name(word))
    return names


def _local(requirement):
    """Whether a pip requirement is an option or a local path (``-e ...``, ``./x``, ``${VAR}``)."""
    return requirement.startswith("-") or "/" in requirement or "$" in requirement


def env_installs(path):
    """Names of the packages a conda environment file installs (conda and pip entries).

    Conda specs (``python=3.11``, ``conda-forge::numpy>=2``) and pip requirements are reduced
    to their normalised names; pip options and local paths (the package itself) are left out.
    """
    spec = yaml.safe_load(Path(path).read_text()) or {}
    names = set()
    for dep in spec.get("dependencies") or []:
        if isinstance(dep, dict):
            names |= {_name(r) for r in dep.get("pip") or [] if not _local(r)}
        else:
            names.add(_name(str(dep).split("::")[-1]))
    return names


def declared(pyproject, groups):
    """Names of the packages pyproject declares in ``groups`` (``dependencies`` or extras)."""
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    names = set()
    for group in groups:
        reqs = project["dependencies"] if group == "dependencies" else (
            project["optional-dependencies"][group]
        )  # fmt: skip
        names |= {_name(r) for r in reqs}
    return names


def drift(root=".", source="image"):
    """Packages a step kind needs that its image (or conda environment) does not install.

    A kind needs what pyproject declares in its groups and the packages its image's base
    provides (``KINDS``); the image is credited with those, the environment must list them.

    Parameters
    ----------
    source : {"image", "env"}
        Check the container definitions (``KINDS``) or the conda environments (``ENVS``).

    Returns
    -------
    dict
        ``{kind: sorted list of missing names}``, empty lists where the image is complete.
    """
    if source not in ("image", "env"):
        raise ValueError(f"source must be 'image' or 'env', not {source!r}")
    root = Path(root)
    out = {}
    for kind, (definition, groups, provided) in KINDS.items():
        needed = declared(root / "pyproject.toml", groups) | provided
        if source == "image":
            installed = pip_installs(parse_definition(root / definition)) | provided
        else:
            installed = env_installs(root / ENVS[kind])
        out[kind] = sorted(needed - installed)
    return out


def build(definition, image, sudo=False):
    """Build a .sif with apptainer (or singularity) through spython.

    Raises
    ------
    RuntimeError
        Neither apptainer nor singularity is installed; the message says what to install.
    """
    if not (shutil.which("apptainer") or shutil.which("singularity")):
        raise RuntimeError(
            "building needs apptainer or singularity on PATH (https://apptainer.org); "
            f"Docker/Podman users: python containers/images.py dockerfile {definition}"
        )
    from spython.main import Client

    return Client.build(recipe=str(definition), image=str(image), sudo=sudo)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python containers/images.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dockerfile", help="convert a definition to a Dockerfile")
    d.add_argument("definition")
    d.add_argument("-o", "--output", help="file to write (default: standard output)")
    b = sub.add_parser("build", help="build a .sif with apptainer")
    b.add_argument("definition")
    b.add_argument("image")
    b.add_argument("--sudo", action="store_true")
    c = sub.add_parser("check", help="each image and env installs what pyproject declares")
    c.add_argument("--root", default=".")
    args = parser.parse_args(argv)
    if args.command == "dockerfile":
        text = to_dockerfile(args.definition)
        if args.output:
            Path(args.output).write_text(text + "\n")
        else:
            print(text)
    elif args.command == "build":
        try:
            build(args.definition, args.image, sudo=args.sudo)
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    else:
        files = {"image": {k: v[0] for k, v in KINDS.items()}, "env": ENVS}
        problems = []
        for source, names in files.items():
            for kind, missing in drift(args.root, source).items():
                if missing:
                    problems.append(f"{names[kind]} lacks {', '.join(missing)}")
        for problem in problems:
            print(f"{problem} (declared in pyproject.toml)")
        if not problems:
            print("container definitions and conda envs install what pyproject.toml declares")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
