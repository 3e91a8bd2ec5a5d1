"""The package map holds: sizes, import graph, where TensorFlow and file formats live, scripts.

These are the structure rules of docs/architecture.md, checked on the source (ast), so that a
change that breaks one fails here with the module and line named.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "workflow" / "gravsep"
SCRIPTS = ROOT / "workflow" / "scripts"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

#: File kind -> (owner module, strings only the owner (and tests) may contain).
FORMAT_OWNERS = {
    "coefficient stores": ("gravsep.formats.store", ['"time_end"', '"yearly_mean"', '["cs"]']),
    "samples.h5": ("gravsep.formats.samples", ['"random/g_pinv"', '"doy"', '["target"]']),
    "predictions.h5": ("gravsep.formats.predictions", ['/prediction"', 'a["inference_mode"]']),
    "training_log.h5": (
        "gravsep.formats.training_log",
        ['f.attrs["stopped_epoch"]', 'f.attrs["patience"]'],
    ),
    "evaluation.h5": ("gravsep.formats.evaluation", ['f"profiles/', 'f"component_errors/']),
    "GSM RL06": ("gravsep.formats.gsm", ['"# End of YAML header"', '"GRDOTA"']),
    "TN-13/TN-14": ("gravsep.formats.technotes", ['"Product:"', '"end of header"']),
    "series.h5": ("gravsep.formats.series", ['"mean_removed"', '"span_start"']),
}
#: Modules that may open HDF5 files: the format owners, their shared writer, and the two files
#: that belong to one module each (the synthetic model and the trainer's resume state).
HDF5_MODULES = {owner for owner, _ in FORMAT_OWNERS.values()} | {
    "gravsep.formats.hdf5",
    "gravsep.synthetic.model",
    "gravsep.network.training.state",
}


def modules():
    """``{dotted name: path}`` of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _docstring_lines(node):
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            return body[0].end_lineno - body[0].lineno + 1
    return 0


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _imports(tree, name, is_package):
    """Absolute names of the gravsep modules a module imports (anywhere in it)."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("gravsep")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
            if not base.startswith("gravsep"):
                continue
            for a in node.names:  # `from gravsep.x import y`: y may be a module
                found.add(f"{base}.{a.name}")
            found.add(base)
    return found


def import_graph():
    mods = modules()
    graph = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text())
        targets = _imports(tree, name, path.name == "__init__.py")
        graph[name] = sorted(t for t in targets if t in mods and t != name)
    return graph


def test_module_and_function_sizes():
    problems = []
    for name, path in modules().items():
        text = path.read_text()
        tree = ast.parse(text)
        lines = len(text.splitlines()) - _docstring_lines(tree)
        if lines > MAX_MODULE_LINES:
            problems.append(f"{name}: {lines} lines (docstring aside)")
        for fn in _functions(tree):
            n = fn.end_lineno - fn.lineno + 1 - _docstring_lines(fn)
            if n > MAX_FUNCTION_LINES:
                problems.append(f"{name}:{fn.lineno} {fn.name}: {n} lines")
    assert not problems, "\n".join(problems)


def test_import_graph_has_no_cycle():
    graph = import_graph()
    # a package's __init__ importing its own modules is not a cycle of concepts
    edges = {
        m: [t for t in ts if not (t.startswith(m + ".") and modules()[m].name == "__init__.py")]
        for m, ts in graph.items()
    }
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in edges[m]:
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_tensorflow_only_inside_the_network_package():
    problems = []
    for name, path in modules().items():
        if name.startswith("gravsep.network"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n.split(".")[0] in ("tensorflow", "keras") for n in names):
                problems.append(f"{name}:{node.lineno}")
    assert not problems, "TensorFlow/Keras imported outside gravsep.network: " + str(problems)


def test_cpu_steps_do_not_load_tensorflow():
    cpu = [m for m in modules() if not m.startswith("gravsep.network")]
    code = "import importlib, sys\n"
    code += "".join(f"importlib.import_module({m!r})\n" for m in cpu)
    code += "print(sorted(k for k in ('tensorflow', 'keras') if k in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("kind", sorted(FORMAT_OWNERS))
def test_each_file_format_has_one_owner(kind):
    owner, markers = FORMAT_OWNERS[kind]
    found = []
    for name, path in modules().items():
        text = path.read_text()
        found += [f"{name}: {m}" for m in markers if m in text and name != owner]
    owner_text = modules()[owner].read_text()
    assert all(m in owner_text for m in markers), f"{owner} lacks a marker of {kind}"
    assert not found, f"{kind} is read or written outside {owner}: {found}"


def test_hdf5_files_are_opened_by_their_owners_only():
    found = []
    for name, path in modules().items():
        if name in HDF5_MODULES:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "File"
                and isinstance(node.value, ast.Name)
                and node.value.id == "h5py"
            ):
                found.append(f"{name}:{node.lineno}")
    assert not found, f"h5py.File outside the format owners: {found}"


def test_scripts_follow_the_template():
    problems = []
    for path in sorted(SCRIPTS.glob("*.py")):
        text = path.read_text()
        tree = ast.parse(text)
        if "sys.path" in text:
            problems.append(f"{path.name}: edits sys.path (the package is installed)")
        if "noqa" in text:
            problems.append(f"{path.name}: noqa comment (per-file ignores are in pyproject)")
        if ast.get_docstring(tree) is None or "(rule " not in ast.get_docstring(tree):
            if "rule ``" not in (ast.get_docstring(tree) or ""):
                problems.append(f"{path.name}: the docstring does not name its rule")
        setup = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
                 and getattr(n.func, "attr", "") == "setup"]  # fmt: skip
        work = [n.lineno for n in tree.body if isinstance(n, ast.ImportFrom)
                and (n.module or "").startswith("gravsep.")]  # fmt: skip
        if not setup:
            problems.append(f"{path.name}: no runlog.setup")
        elif work and min(work) < min(setup):
            problems.append(f"{path.name}: imports the step before the log is set up")
    assert not problems, "\n".join(problems)


def test_files_are_written_through_the_atomic_helper():
    """savefig/to_csv only in gravsep.atomic; open(..., "w") and to_netcdf only on the
    temporary path of an atomic output (named ``tmp``; ``part``: the download's resumable
    temporary), the job log aside."""
    problems = []
    for name, path in modules().items():
        if name in ("gravsep.atomic", "gravsep.runlog"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            attr = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0] if node.args else None
            on_tmp = isinstance(first, ast.Name) and first.id in ("tmp", "part")
            if attr in ("savefig", "to_csv"):
                problems.append(f"{name}:{node.lineno} {attr} (use gravsep.atomic)")
            elif attr == "to_netcdf" and not on_tmp:
                problems.append(f"{name}:{node.lineno} to_netcdf outside an atomic output")
            elif attr == "open" and isinstance(func, ast.Name):
                modes = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
                modes += [k.value.value for k in node.keywords
                          if k.arg == "mode" and isinstance(k.value, ast.Constant)]  # fmt: skip
                if any("w" in str(m) or "a" in str(m) for m in modes) and not on_tmp:
                    problems.append(f"{name}:{node.lineno} open for writing outside atomic")
    assert not problems, "\n".join(problems)
