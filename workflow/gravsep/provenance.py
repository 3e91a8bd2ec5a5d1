"""Provenance records of a run.

The resolved configuration, code version and package versions (``write_config_record``); the
container images, SHA-256 checksums of the input archives and per-rule runtimes from the
benchmark files (``write_provenance_record``), a human-readable page of both
(``write_provenance_html``), and a Workflow Run RO-Crate of the run (``build_run_crate``, with
the ``rocrate`` library; profile https://w3id.org/ro/wfrun/workflow/0.5).
"""

import csv
import datetime as dt
import hashlib
import html
import math
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import yaml

from gravsep.atomic import write_text
from gravsep.plain import plain

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
    record = config_record(config, models, datasets)
    write_text(path, yaml.safe_dump(plain(record), sort_keys=False))
    return record


def config_record(config, models, datasets):
    """The record ``write_config_record`` writes, as a dict."""
    return {
        "config": config,
        "resolved_models": models,
        "model_datasets": datasets,
        "code": code_version(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
    }


# --- checksums, runtimes and the run's record --------------------------------------------------


def sha256_file(path, chunk=1 << 20):
    """Hex SHA-256 of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def archive_checksums(paths):
    """``{archive file name: sha256}`` of ``paths``, sorted by name."""
    return {Path(p).name: sha256_file(p) for p in sorted(paths, key=lambda p: Path(p).name)}


def _number(text):
    """A benchmark cell as a float; None for ``NA``, ``-`` or empty cells."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def benchmark_rule(path, bench_dir):
    """The rule a benchmark file belongs to: ``<rule>.tsv`` or ``<rule>/<wildcards>.tsv``."""
    rel = Path(path).relative_to(bench_dir)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def benchmark_files(bench_dir, exclude=()):
    """Benchmark TSVs under ``bench_dir``, without those in ``exclude`` (paths)."""
    bench_dir = Path(bench_dir)
    if not bench_dir.is_dir():
        return []
    skip = {Path(p).resolve() for p in exclude}
    return sorted(p for p in bench_dir.rglob("*.tsv") if p.resolve() not in skip)


def rule_runtimes(bench_dir, exclude=()):
    """Per-rule runtimes from Snakemake's benchmark TSVs under ``bench_dir``.

    Returns ``{rule: {count, total_s, max_s, max_rss}}``: ``count`` the measured runs (one row
    each; a job benchmarked with repeats gives several), ``total_s`` and ``max_s`` their summed
    and longest wall-clock seconds, ``max_rss`` the largest resident memory in MB (None where the
    platform did not measure it).
    """
    bench_dir = Path(bench_dir)
    out = {}
    for path in benchmark_files(bench_dir, exclude):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        entry = out.setdefault(
            benchmark_rule(path, bench_dir),
            {"count": 0, "total_s": 0.0, "max_s": 0.0, "max_rss": None},
        )
        for row in rows:
            seconds = _number(row.get("s"))
            if seconds is None:
                continue
            entry["count"] += 1
            entry["total_s"] += seconds
            entry["max_s"] = max(entry["max_s"], seconds)
            rss = _number(row.get("max_rss"))
            if rss is not None:
                entry["max_rss"] = rss if entry["max_rss"] is None else max(entry["max_rss"], rss)
    for entry in out.values():
        entry["total_s"] = round(entry["total_s"], 3)
        entry["max_s"] = round(entry["max_s"], 3)
    return dict(sorted(out.items()))


def earliest_start(bench_dir, exclude=()):
    """Estimated start of the earliest benchmarked job (file time minus its seconds), or None.

    A benchmark file is written when its job ends, so its modification time less its runtime is
    when the job began; the earliest over all jobs whose benchmarks are present bounds the run.
    """
    starts = []
    for path in benchmark_files(bench_dir, exclude):
        with open(path, newline="") as f:
            seconds = [_number(r.get("s")) for r in csv.DictReader(f, delimiter="\t")]
        total = sum(s for s in seconds if s is not None)
        starts.append(path.stat().st_mtime - total)
    if not starts:
        return None
    return dt.datetime.fromtimestamp(min(starts), dt.UTC)


def write_provenance_record(path, containers, checksums, runtimes, extra=None):
    """Write containers, archive checksums and per-rule runtimes (and ``extra``) as YAML."""
    record = {
        "containers": plain(containers),
        "archives": {"sha256": dict(checksums)},
        "runtimes": plain(runtimes),
        **plain(extra or {}),
    }
    write_text(path, yaml.safe_dump(record, sort_keys=False))
    return record


# --- the human-readable page ----------------------------------------------------------------


def _table(header, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


_STYLE = (
    "body{font-family:sans-serif;margin:1.5em;max-width:60em}"
    "table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #bbb;padding:2px 8px;text-align:left}"
    "td{font-family:monospace}pre{background:#f4f4f4;padding:8px;overflow-x:auto}"
)


def provenance_html(config_record, provenance_record, crate=None):
    """A self-contained HTML page of the configuration record and the provenance record."""
    code = config_record.get("code", {})
    dirty = code.get("dirty")
    state = {True: "uncommitted changes", False: "clean", None: "unknown"}[dirty]
    run = provenance_record.get("run", {})
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>gravsep provenance</title><style>{_STYLE}</style></head><body>",
        "<h1>Provenance of this run</h1>",
        "<h2>Code</h2>",
        _table(
            ["", ""],
            [
                ["git commit", code.get("commit")],
                ["working tree", state],
                ["Python", config_record.get("python")],
                ["platform", config_record.get("platform")],
                ["run started (earliest job)", run.get("start")],
                ["provenance written", run.get("end")],
            ],
        ),
        "<h2>Packages</h2>",
        _table(["package", "version"], sorted(config_record.get("packages", {}).items())),
        "<h2>Container images</h2>",
        _table(["container", "image"], sorted(provenance_record.get("containers", {}).items())),
        "<h2>Input archives (SHA-256)</h2>",
        _table(
            ["archive", "sha256"], provenance_record.get("archives", {}).get("sha256", {}).items()
        ),
        "<h2>Runtimes per rule</h2>",
        _table(
            ["rule", "runs", "total s", "max s", "max RSS (MB)"],
            [
                [rule, r["count"], r["total_s"], r["max_s"], r["max_rss"]]
                for rule, r in provenance_record.get("runtimes", {}).items()
            ],
        ),
    ]
    if crate:
        parts.append(
            "<p>Workflow Run RO-Crate metadata: <code>" + html.escape(str(crate)) + "</code></p>"
        )
    parts += [
        "<h2>Models</h2>",
        _table(["model", "dataset"], sorted(config_record.get("model_datasets", {}).items())),
        "<h2>Configuration</h2>",
        "<pre>"
        + html.escape(yaml.safe_dump(config_record.get("config", {}), sort_keys=False))
        + "</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_provenance_html(path, config_record, provenance_record, crate=None):
    write_text(path, provenance_html(config_record, provenance_record, crate))


# --- Workflow Run RO-Crate ------------------------------------------------------------------

#: Profiles the crate conforms to (https://w3id.org/ro/wfrun/workflow/0.5).
PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.5": ("Process Run Crate", "0.5"),
    "https://w3id.org/ro/wfrun/workflow/0.5": ("Workflow Run Crate", "0.5"),
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": ("Workflow RO-Crate", "1.0"),
}
WFRUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"


def crate_id(path, root):
    """The crate @id of ``path``: relative to ``root`` inside it, a ``file://`` URI outside."""
    path = Path(path).resolve()
    root = Path(root).resolve()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_uri()


def iso_time(when):
    """``when`` (aware datetime or None) as ISO 8601 in UTC, to the second."""
    return when.astimezone(dt.UTC).isoformat(timespec="seconds") if when else None


def build_run_crate(
    root,
    workflow,
    inputs,
    outputs,
    *,
    name="gravsep workflow run",
    snakemake_version=None,
    start=None,
    end=None,
    checksums=None,
    workflow_parts=(),
    license_id="https://spdx.org/licenses/MIT",
):
    """A Workflow Run RO-Crate (``rocrate.ROCrate``) of one run, with ``root`` as its root.

    ``workflow`` is the main Snakefile (inside ``root``), ``workflow_parts`` the files it
    includes; ``inputs`` (archives, config files) become the CreateAction's ``object`` and
    ``outputs`` its ``result``. Files inside ``root`` get relative ids, others ``file://`` URIs.
    ``checksums`` maps a path to its sha256; every file also records its size.
    """
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    root = Path(root)
    checksums = {str(Path(k).resolve()): v for k, v in (checksums or {}).items()}
    crate = ROCrate(version="1.1")
    crate.metadata.extra_contexts.append(WFRUN_CONTEXT)
    crate.name = name
    crate.description = (
        "Separation of time-variable gravity (AO, H, I, S) with a multi-channel U-Net: the "
        "inputs, the workflow and the outputs of one Snakemake run."
    )
    crate.license = crate.add(
        ContextEntity(crate, license_id, properties={"@type": "CreativeWork", "name": "MIT"})
    )
    for profile, (label, version) in PROFILES.items():
        entity = crate.add(
            ContextEntity(
                crate,
                profile,
                properties={"@type": "CreativeWork", "name": label, "version": version},
            )
        )
        crate.root_dataset.append_to("conformsTo", entity)

    def add(path, **kwargs):
        properties = {"contentSize": str(Path(path).stat().st_size)}
        sha = checksums.get(str(Path(path).resolve()))
        if sha:
            properties["sha256"] = sha
        ident = crate_id(path, root)
        if ident.startswith("file:"):
            return crate.add_file(ident, properties=properties, **kwargs)
        return crate.add_file(path, dest_path=ident, properties=properties, **kwargs)

    wf_props = {"name": "gravsep", "contentSize": str(Path(workflow).stat().st_size)}
    wf = crate.add_workflow(
        workflow,
        dest_path=crate_id(workflow, root),
        main=True,
        lang="snakemake",
        lang_version=snakemake_version,
        properties=wf_props,
    )
    for part in workflow_parts:
        wf.append_to("hasPart", add(part))
    objects = [add(p) for p in inputs]
    results = [add(p) for p in outputs]
    properties = {"name": "Snakemake run of the gravsep workflow"}
    if start:
        properties["startTime"] = iso_time(start)
    if end:
        properties["endTime"] = iso_time(end)
    action = crate.add_action(
        wf, identifier="#run", object=objects, result=results, properties=properties
    )
    crate.root_dataset.append_to("mentions", action)
    return crate


def snapshot_files(files, repo, dest):
    """Copy ``files`` to ``dest``, keeping their paths relative to ``repo``; the copies' paths.

    Files outside ``repo`` (a ``--configfile`` elsewhere) go to ``dest/external/``.
    """
    repo = Path(repo).resolve()
    copies = []
    for src in files:
        src = Path(src).resolve()
        try:
            rel = src.relative_to(repo)
        except ValueError:
            rel = Path("external") / src.name
        target = Path(dest) / rel
        if target in copies:
            raise ValueError(f"two files would be copied to {target}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        copies.append(target)
    return copies


def write_run_crate(crate, root):
    """Write the crate's metadata file into ``root`` (the data files are already there)."""
    crate.write(root)
    return Path(root) / "ro-crate-metadata.json"
