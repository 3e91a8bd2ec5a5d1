"""Container definitions: Dockerfiles for Docker/Podman users, .sif builds, drift checks.

The Apptainer definitions ``containers/cpu.def`` (every step but training and prediction) and
``containers/gpu.def`` (training and prediction) are the source; spython converts them to
Dockerfiles and, where apptainer or singularity is installed, builds the images.

Command line::

    python containers/images.py dockerfile containers/cpu.def [-o containers/cpu.Dockerfile]
    python containers/images.py build containers/cpu.def gravsep-cpu.sif
    python containers/images.py check            # each image installs what pyproject declares
"""

import argparse
import re
import shlex
import shutil
import sys
import tomllib
from pathlib import Path

#: Step kind -> (definition file, pyproject groups it must install, packages its base provides).
KINDS = {
    "cpu": ("containers/cpu.def", ["dependencies", "cpu"], set()),
    "gpu": ("containers/gpu.def", ["dependencies"], {"tensorflow"}),
}


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


def drift(root="."):
    """Packages pyproject declares for a step kind that its image does not install.

    Returns
    -------
    dict
        ``{kind: sorted list of missing names}``, empty lists where the image is complete.
    """
    root = Path(root)
    out = {}
    for kind, (definition, groups, provided) in KINDS.items():
        recipe = parse_definition(root / definition)
        missing = declared(root / "pyproject.toml", groups) - pip_installs(recipe) - provided
        out[kind] = sorted(missing)
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
    c = sub.add_parser("check", help="each image installs what pyproject declares")
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
        problems = {k: v for k, v in drift(args.root).items() if v}
        for kind, missing in problems.items():
            print(f"{KINDS[kind][0]} lacks {', '.join(missing)} (declared in pyproject.toml)")
        if not problems:
            print("container definitions install what pyproject.toml declares")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
