"""Provenance pieces on a small fake results folder: checksums, runtimes, the page, the crate."""

import datetime as dt
import hashlib
import os
import subprocess

import pytest
import yaml
from gravsep import provenance as prov
from gravsep.plain import plain

rocrate = pytest.importorskip("rocrate.rocrate")

BENCH_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(path, *rows):
    """A Snakemake benchmark TSV with rows of (seconds, max_rss)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{s}\t0:00:00\t{rss}\t1\t1\t1\t0\t0\t0\t0\n" for s, rss in rows]
    path.write_text(BENCH_HEADER + "".join(lines))
    return path


@pytest.fixture
def fake_run(tmp_path):
    """A working folder with a tiny results/ tree: archives, outputs, benchmarks, a workflow."""
    work = tmp_path / "work"
    res = work / "results"
    archives = []
    for i, name in enumerate(["mtm_1995_A.tar.gz", "mtm_1995_H.tar.gz"]):
        path = res / "synthetic" / "archives" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(range(256)) * (i + 3))
        archives.append(path)
    outputs = {
        "metrics.csv": "model,rel_rms\nlatlon,1.0\n",
        "metrics.html": "<table></table>",
        "models/latlon/figures/maps.png": "png",
        "models/latlon/export/separated.nc": "nc",
    }
    for rel, text in outputs.items():
        (res / rel).parent.mkdir(parents=True, exist_ok=True)
        (res / rel).write_text(text)
    bench = res / "benchmarks"
    _bench(bench / "train" / "latlon.tsv", (10.5, 800.0))
    _bench(bench / "train" / "tlon.tsv", (4.5, 1200.5))
    _bench(bench / "metrics_table.tsv", (0.4, "NA"))
    _bench(bench / "store" / "A_1995.tsv", (1.0, 50.0), (3.0, 60.0))  # two repeats
    _bench(bench / "provenance.tsv", (99.0, 1.0))  # the rule's own, from an earlier run
    repo = tmp_path / "repo"
    (repo / "workflow").mkdir(parents=True)
    (repo / "rules").mkdir()
    (repo / "config").mkdir()
    (repo / "workflow" / "Snakefile").write_text('include: "../rules/report.smk"\n')
    (repo / "rules" / "report.smk").write_text("rule provenance:\n    output: 'x'\n")
    (repo / "config" / "config.yaml").write_text("data: {nmax: 15}\n")
    return {
        "work": work,
        "res": res,
        "archives": archives,
        "outputs": [res / rel for rel in outputs],
        "bench": bench,
        "repo": repo,
    }


def test_checksums_equal_hashlib(fake_run):
    sums = prov.archive_checksums(fake_run["archives"])
    assert list(sums) == ["mtm_1995_A.tar.gz", "mtm_1995_H.tar.gz"]
    for path in fake_run["archives"]:
        assert sums[path.name] == hashlib.sha256(path.read_bytes()).hexdigest()
    # chunked reading gives the same digest
    path = fake_run["archives"][0]
    assert prov.sha256_file(path, chunk=7) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_runtimes_aggregated_per_rule(fake_run):
    bench = fake_run["bench"]
    runtimes = prov.rule_runtimes(bench, exclude=[bench / "provenance.tsv"])
    assert list(runtimes) == ["metrics_table", "store", "train"]
    assert runtimes["train"] == {"count": 2, "total_s": 15.0, "max_s": 10.5, "max_rss": 1200.5}
    assert runtimes["store"] == {"count": 2, "total_s": 4.0, "max_s": 3.0, "max_rss": 60.0}
    assert runtimes["metrics_table"]["max_rss"] is None  # NA: not measured
    assert "provenance" in prov.rule_runtimes(bench)
    assert prov.rule_runtimes(fake_run["work"] / "missing") == {}


def test_earliest_start_is_before_the_jobs_ended(fake_run):
    bench = fake_run["bench"]
    ended = 1_700_000_000
    os.utime(bench / "train" / "latlon.tsv", (ended, ended))
    start = prov.earliest_start(bench)
    assert start == dt.datetime.fromtimestamp(ended - 10.5, dt.UTC)
    assert prov.earliest_start(fake_run["work"] / "missing") is None


def test_provenance_record_and_page(fake_run, tmp_path):
    sums = prov.archive_checksums(fake_run["archives"])
    runtimes = prov.rule_runtimes(fake_run["bench"])
    containers = {"cpu": "docker://example/gravsep-cpu:1", "gpu": "gravsep-gpu.sif"}
    path = tmp_path / "provenance.yaml"
    record = prov.write_provenance_record(path, containers, sums, runtimes, extra={"run": {}})
    loaded = yaml.safe_load(path.read_text())
    assert loaded == record
    assert loaded["containers"] == containers
    assert loaded["archives"]["sha256"] == sums
    assert loaded["runtimes"]["train"]["count"] == 2

    cfg = prov.config_record({"data": {"nmax": 15}}, {"latlon": {}}, {"latlon": "ds-1"})
    assert {"config", "resolved_models", "model_datasets", "code", "python", "platform",
            "packages"} <= set(cfg)  # fmt: skip
    page = prov.provenance_html(plain(cfg), record, crate="results/ro-crate-metadata.json")
    assert page.startswith("<!DOCTYPE html>")
    for text in [*sums.values(), "docker://example/gravsep-cpu:1", "metrics_table", "nmax: 15",
                 "ro-crate-metadata.json", cfg["packages"]["numpy"]]:  # fmt: skip
        assert text in page, text
    assert "<script" not in prov.provenance_html({"config": {"x": "<script>"}}, record)


def test_config_record_keys(tmp_path):
    path = tmp_path / "config.yaml"
    prov.write_config_record(path, {"data": {"nmax": 15}}, {"latlon": {}}, {"latlon": "ds"})
    record = yaml.safe_load(path.read_text())
    assert record["config"]["data"]["nmax"] == 15
    assert "commit" in record["code"] and record["packages"]["numpy"]


def _git(repo, *args):
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_git_dirty_flag(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.txt").write_text("one\n")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-q", "-m", "first")
    head = _git(repo, "rev-parse", "HEAD").strip()
    assert prov.code_version(repo) == {"commit": head, "dirty": False}
    (repo / "untracked.txt").write_text("new\n")  # untracked files leave it clean
    assert prov.code_version(repo) == {"commit": head, "dirty": False}
    (repo / "a.txt").write_text("two\n")
    assert prov.code_version(repo) == {"commit": head, "dirty": True}
    _git(repo, "commit", "-q", "-am", "second")
    second = prov.code_version(repo)
    assert second["commit"] != head and second["dirty"] is False
    assert prov.code_version(tmp_path / "not-a-repo-dir-absent") == {
        "commit": "unknown",
        "dirty": None,
    }


def test_snapshot_keeps_repository_paths(fake_run, tmp_path):
    repo = fake_run["repo"]
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("x: 1\n")
    dest = fake_run["res"] / "provenance" / "workflow"
    copies = prov.snapshot_files(
        [repo / "workflow" / "Snakefile", repo / "config" / "config.yaml", outside], repo, dest
    )
    assert copies == [
        dest / "workflow" / "Snakefile",
        dest / "config" / "config.yaml",
        dest / "external" / "elsewhere.yaml",
    ]
    assert copies[0].read_text() == (repo / "workflow" / "Snakefile").read_text()


def _by_id(crate, ident):
    entity = crate.get(ident)
    assert entity is not None, ident
    return entity


def _ids(value):
    return {e.id for e in (value if isinstance(value, list) else [value])}


def test_run_crate_loads_back(fake_run, tmp_path):
    res, repo = fake_run["res"], fake_run["repo"]
    dest = res / "provenance" / "workflow"
    snapshot = prov.snapshot_files(
        [repo / "workflow" / "Snakefile", repo / "rules" / "report.smk"], repo, dest
    )
    configs = prov.snapshot_files([repo / "config" / "config.yaml"], repo, dest)
    outside = tmp_path / "mtm_1995_I.tar.gz"  # an archive outside the crate's root
    outside.write_bytes(b"archive")
    archives = [*fake_run["archives"], outside]
    sums = {str(a): prov.sha256_file(a) for a in archives}
    start = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    end = start + dt.timedelta(hours=1)
    crate = prov.build_run_crate(
        res,
        snapshot[0],
        inputs=[*archives, *configs],
        outputs=fake_run["outputs"],
        snakemake_version="9.0.0",
        start=start,
        end=end,
        checksums=sums,
        workflow_parts=snapshot[1:],
    )
    before = {p: p.read_bytes() for p in res.rglob("*") if p.is_file()}
    path = prov.write_run_crate(crate, res)
    assert path == res / "ro-crate-metadata.json"
    after = {p: p.read_bytes() for p in res.rglob("*") if p.is_file() and p != path}
    assert after == before  # writing the crate leaves the data alone

    loaded = rocrate.ROCrate(res)
    wf = loaded.mainEntity
    assert wf.id == "provenance/workflow/workflow/Snakefile"
    assert {"File", "SoftwareSourceCode", "ComputationalWorkflow"} <= set(wf.type)
    assert "Snakemake" in wf["programmingLanguage"]["name"]
    assert _ids(wf["hasPart"]) == {"provenance/workflow/rules/report.smk"}

    actions = loaded.get_by_type("CreateAction")
    assert len(actions) == 1
    action = actions[0]
    assert action["instrument"].id == wf.id
    assert _ids(action["object"]) == {
        "synthetic/archives/mtm_1995_A.tar.gz",
        "synthetic/archives/mtm_1995_H.tar.gz",
        outside.resolve().as_uri(),
        "provenance/workflow/config/config.yaml",
    }
    assert _ids(action["result"]) == {
        "metrics.csv",
        "metrics.html",
        "models/latlon/figures/maps.png",
        "models/latlon/export/separated.nc",
    }
    assert action["startTime"] == "2024-01-02T03:04:05+00:00"
    assert action["endTime"] == "2024-01-02T04:04:05+00:00"
    assert action.id in _ids(loaded.root_dataset["mentions"])

    archive = _by_id(loaded, "synthetic/archives/mtm_1995_A.tar.gz")
    assert archive["sha256"] == sums[str(fake_run["archives"][0])]
    assert archive["contentSize"] == str(fake_run["archives"][0].stat().st_size)
    profiles = _ids(loaded.root_dataset["conformsTo"])
    assert {
        "https://w3id.org/ro/wfrun/process/0.5",
        "https://w3id.org/ro/wfrun/workflow/0.5",
        "https://w3id.org/workflowhub/workflow-ro-crate/1.0",
    } <= profiles
    assert loaded.root_dataset["license"] is not None and loaded.name
    # every relative id names a file inside the root
    for entity in loaded.data_entities:
        if "://" not in entity.id:
            assert (res / entity.id).is_file(), entity.id
