"""Helpers of the fault-injection suite: running Snakemake, the fault tally, output comparison.

The tally is module state: every test records the faults it injects with :func:`fault`, and
``tests/conftest.py`` prints ``faults: N tried, M survived`` at the end of the session.
A fault *survived* when the pipeline completed identically, or stopped with the expected clear
error and left no partial output.
"""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import yaml
from workflow_helpers import tiny_config, write_config  # noqa: F401 (used by the tests)

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "workflow" / "Snakefile"
TINY = REPO / "tests" / "configs" / "tiny.yaml"
PROFILE = REPO / "profiles" / "default"

# --------------------------------------------------------------------------- the tally

#: name -> {"survived": bool, "detail": str}, in the order tried.
TALLY = {}


@contextlib.contextmanager
def fault(name):
    """Record one injected fault; it survived when the ``with`` body finishes without error."""
    TALLY[name] = {"survived": False, "detail": "checks did not finish"}
    try:
        yield
    except BaseException as err:
        TALLY[name]["detail"] = f"{type(err).__name__}: {str(err).strip()[:300]}"
        raise
    TALLY[name] = {"survived": True, "detail": ""}


def tried(name):
    """Record a fault whose outcome is decided later (call :func:`settle`)."""
    TALLY[name] = {"survived": False, "detail": "outcome not checked"}


def settle(names, survived, detail=""):
    detail = detail if len(detail) < 300 else detail[:300] + " ..."
    for name in names:
        TALLY[name] = {"survived": bool(survived), "detail": "" if survived else detail}


# --------------------------------------------------------------------------- Snakemake


def environment():
    env = dict(os.environ)
    # the scripts must run with this interpreter's packages
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONUNBUFFERED"] = "1"  # job starts show in the log as they happen
    return env


def command(workdir, *args, configfile=TINY, profile=True):
    """Snakemake command line on the repository's workflow, run in ``workdir``.

    ``profile``: use the repository's default profile (rerun-incomplete and the rest), as
    ``snakemake`` from the repository root does.
    """
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE)]
    cmd += ["--directory", str(workdir), "--cores", "2", *(str(a) for a in args)]
    if profile:
        cmd += ["--workflow-profile", str(PROFILE)]
    if configfile is not None:  # last: it takes every word up to the next option
        cmd += ["--configfile", str(configfile)]
    return cmd


def run(workdir, *args, configfile=TINY, profile=True, timeout=900):
    """Run Snakemake to completion; the CompletedProcess (stdout and stderr as text)."""
    return subprocess.run(
        command(workdir, *args, configfile=configfile, profile=profile),
        capture_output=True, text=True, env=environment(), timeout=timeout, cwd=workdir,
        check=False,
    )  # fmt: skip


def start(workdir, logfile, *args, configfile=TINY):
    """Start Snakemake in its own process group (so that one killpg ends every job too)."""
    out = open(logfile, "wb")  # noqa: SIM115 (closed by the caller through the Popen)
    proc = subprocess.Popen(
        command(workdir, *args, configfile=configfile),
        stdout=out, stderr=subprocess.STDOUT, env=environment(), cwd=workdir,
        start_new_session=True,
    )  # fmt: skip
    proc.logfile = out
    return proc


def kill_group(proc):
    """SIGKILL Snakemake and every process it started; wait for it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.logfile.close()


# --------------------------------------------------------------------------- leftovers

PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".temp")
PARTIAL_PREFIXES = (".tmp-",)  # gravsep.atomic.temporary_path


def partial_files(folder):
    """Paths under ``folder`` (relative) that look half-written: *.part, *.partial, .tmp-*"""
    out = []
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            if name.endswith(PARTIAL_SUFFIXES) or name.startswith(PARTIAL_PREFIXES):
                out.append(os.path.relpath(os.path.join(root, name), folder))
    return sorted(out)


def files_named(folder, name):
    """Every path under ``folder`` whose name is ``name`` (for PWNED markers)."""
    return sorted(str(p) for p in Path(folder).rglob(name))


# --------------------------------------------------------------------------- comparison

#: Attributes and datasets that record when or how long, not what (allowed to differ).
VOLATILE_ATTRS = {"date_created", "history", "_NCProperties", "DIMENSION_LIST", "REFERENCE_LIST"}
VOLATILE_DATASETS = {"epoch_seconds"}


def _same_value(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "O":
        return [str(x) for x in a.ravel()] == [str(x) for x in b.ravel()]
    return a.tobytes() == b.tobytes()


def compare_h5(a, b, label):
    """Differences between two HDF5 files: every dataset bitwise, attributes by value."""
    diffs = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        items_a, items_b = {}, {}
        fa.visititems(lambda n, o: items_a.__setitem__(n, o) and None)
        fb.visititems(lambda n, o: items_b.__setitem__(n, o) and None)
        if set(items_a) != set(items_b):
            diffs.append(f"{label}: members differ: {sorted(set(items_a) ^ set(items_b))}")
        for name in sorted(set(items_a) & set(items_b)):
            oa, ob = items_a[name], items_b[name]
            if isinstance(oa, h5py.Dataset) and name.rsplit("/", 1)[-1] not in VOLATILE_DATASETS:
                if not isinstance(ob, h5py.Dataset) or not _same_value(oa[()], ob[()]):
                    diffs.append(f"{label}: dataset {name} differs")
            diffs += _compare_attrs(oa.attrs, ob.attrs, f"{label}:{name}")
        diffs += _compare_attrs(fa.attrs, fb.attrs, label)
    return diffs


def _compare_attrs(aa, ab, label):
    diffs = []
    keys = (set(aa) | set(ab)) - VOLATILE_ATTRS
    for key in sorted(keys):
        if key not in aa or key not in ab:
            diffs.append(f"{label}: attribute {key} only in one file")
        elif not _same_value(aa[key], ab[key]):
            diffs.append(f"{label}: attribute {key} differs")
    return diffs


def _tar_members(path):
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else None) for m in tar}


def _keras_parts(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def compare_file(a, b, rel):
    """Differences between two outputs of the same name (empty list: identical)."""
    a, b = Path(a), Path(b)
    suffix = "".join(a.suffixes[-2:]) if a.name.endswith(".tar.gz") else a.suffix
    if suffix in (".h5", ".nc"):
        return compare_h5(a, b, rel)
    if suffix == ".png":
        ok = all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in (a, b))
        return [] if ok else [f"{rel}: not a PNG in both runs"]
    if suffix == ".tar.gz":
        ma, mb = _tar_members(a), _tar_members(b)
        if ma.keys() != mb.keys():
            return [f"{rel}: archive members differ"]
        return [f"{rel}: member {k} differs" for k in ma if ma[k] != mb[k]]
    if suffix == ".keras":
        pa, pb = _keras_parts(a), _keras_parts(b)
        diffs = [] if pa.keys() == pb.keys() else [f"{rel}: zip members differ"]
        for name in sorted(pa.keys() & pb.keys()):
            if name == "metadata.json":  # keras version and the date saved
                ja, jb = json.loads(pa[name]), json.loads(pb[name])
                ja.pop("date_saved", None), jb.pop("date_saved", None)
                if ja != jb:
                    diffs.append(f"{rel}: {name} differs")
            elif name == "config.json":  # Keras numbers shared objects by id(): memory addresses
                if _drop_key(json.loads(pa[name]), "shared_object_id") != _drop_key(
                    json.loads(pb[name]), "shared_object_id"
                ):
                    diffs.append(f"{rel}: {name} differs")
            elif name.endswith(".h5"):
                diffs += compare_h5(io.BytesIO(pa[name]), io.BytesIO(pb[name]), f"{rel}/{name}")
            elif pa[name] != pb[name]:
                diffs.append(f"{rel}: {name} differs")
        return diffs
    if a.is_dir() and a.name == "tensorboard":  # event file names carry time, host and pid
        return [] if _tensorboard_scalars(a) == _tensorboard_scalars(b) else [
            f"{rel}: logged scalars differ"
        ]  # fmt: skip
    if a.parent.name == "provenance" and a.name in ("provenance.yaml", "provenance.html"):
        # runtimes and times describe the run; the inputs it names must agree
        ra, rb = (
            yaml.safe_load(a.with_suffix(".yaml").read_text()),
            yaml.safe_load(b.with_suffix(".yaml").read_text()),
        )
        keys = ("containers", "archives")
        return [f"{rel}: {k} differs" for k in keys if ra.get(k) != rb.get(k)]
    if a.name == "ro-crate-metadata.json":  # dates differ; the entities must not
        ids = [sorted(e["@id"] for e in json.loads(p.read_text())["@graph"]) for p in (a, b)]
        return [] if ids[0] == ids[1] else [f"{rel}: crate entities differ"]
    if a.name == "config.yaml" and a.parent.name == "provenance":
        ra, rb = yaml.safe_load(a.read_text()), yaml.safe_load(b.read_text())
        keys = ("config", "resolved_models", "model_datasets")
        return [f"{rel}: {k} differs" for k in keys if ra.get(k) != rb.get(k)]
    return [] if a.read_bytes() == b.read_bytes() else [f"{rel}: bytes differ"]


def _drop_key(obj, key):
    if isinstance(obj, dict):
        return {k: _drop_key(v, key) for k, v in obj.items() if k != key}
    if isinstance(obj, list):
        return [_drop_key(v, key) for v in obj]
    return obj


def _tensorboard_scalars(folder):
    """(tag, step, value) of every summary in a TensorBoard folder, wall times left out."""
    import tensorflow as tf

    out = []
    for events in sorted(Path(folder).glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for v in event.summary.value:
                if v.tag.startswith("time/"):  # wall-clock seconds per epoch, like epoch_seconds
                    continue
                value = tf.make_ndarray(v.tensor) if v.HasField("tensor") else v.simple_value
                out.append((v.tag, event.step, np.asarray(value).tobytes()))
    return sorted(out)


def result_files(workdir):
    """Outputs under results/ (logs and benchmarks left out), relative paths.

    A TensorBoard folder counts as one output (its event file names differ from run to run).
    """
    res = Path(workdir) / "results"
    skip = ("logs", "benchmarks")
    found = set()
    for p in res.rglob("*"):
        rel = p.relative_to(res)
        if not p.is_file() or rel.parts[0] in skip:
            continue
        if "tensorboard" in rel.parts:
            rel = Path(*rel.parts[: rel.parts.index("tensorboard") + 1])
        found.add(str(rel))
    return sorted(found)


def compare_runs(ref, other, only=None):
    """Differences between the results of two working folders (empty list: identical).

    The same set of files must exist (nothing lost, no stray half-written file), and each must
    match: arrays bitwise, tables and texts byte for byte, PNGs present.
    """
    fa, fb = result_files(ref), result_files(other)
    if only is not None:
        fa, fb = [f for f in fa if only(f)], [f for f in fb if only(f)]
    diffs = []
    if fa != fb:
        lost, extra = sorted(set(fa) - set(fb)), sorted(set(fb) - set(fa))
        diffs.append(
            f"file sets differ: {len(lost)} only in the reference {lost[:5]}, "
            f"{len(extra)} only in the other run {extra[:5]}"
        )
    for rel in sorted(set(fa) & set(fb)):
        diffs += compare_file(Path(ref) / "results" / rel, Path(other) / "results" / rel, rel)
    return diffs
