"""Shared fixtures (the tiny workflow run once per session, and its report) and the parallel run.

``pytest`` runs on ``-n auto`` workers (pytest-xdist, ``addopts`` in pyproject.toml). The
scheduler (:func:`pytest_xdist_make_scheduler`) hands out whole groups: a module is one group,
so a module's fixtures (a workflow run shared by its tests) are built once, on one worker; the
modules that use the tiny run (:data:`TINY_RUN_MODULES`) are one group, so it runs once per
session. The groups that hold a whole workflow run go first (:data:`FIRST`), so the longest
ones do not start last. (xdist's own ``--dist loadgroup`` does not group under pytest 9.2,
whose node ids it can no longer rename.) The fault suite's tally (``faults: N tried, M
survived``) is gathered from the workers.
"""

import os
import sys
from pathlib import Path

import pytest
from workflow_helpers import snakemake

sys.path.insert(0, str(Path(__file__).resolve().parent / "faults"))
import faultlib  # noqa: E402

#: Modules that use the ``tiny_run`` fixture (one group, so the run is made once).
TINY_RUN_MODULES = (
    "tests/test_workflow.py",
    "tests/test_report_browser.py",
    "tests/faults/test_kill_rerun.py",
    "tests/faults/test_determinism.py",
)
#: Groups that run whole workflows, longest first (measured with ``--durations``).
FIRST = (
    "tests/test_default_run.py",
    "tests/test_slurm.py",
    "tiny_run",
    "tests/test_ensemble_workflow.py",
    "tests/test_benchmarks.py",
    "tests/test_apply_workflow.py",
)
#: At most this many workers for ``-n auto`` (each may hold a few GB of TensorFlow).
MAX_WORKERS = 4


def group(nodeid):
    """The scheduling group of a test: its module, or ``tiny_run``."""
    module = nodeid.split("::", 1)[0]
    return "tiny_run" if module in TINY_RUN_MODULES else module


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Put the groups of :data:`FIRST` first (stable: each group's tests keep their order);
    refuse a user of the tiny run outside :data:`TINY_RUN_MODULES` (it would run it again)."""
    for item in items:
        if {"tiny_run", "report_html"} & set(getattr(item, "fixturenames", ())):
            if group(item.nodeid) != "tiny_run":
                raise pytest.UsageError(
                    f"{item.nodeid} uses the tiny run: add its module to TINY_RUN_MODULES in "
                    "tests/conftest.py"
                )
    rank = {name: k for k, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(group(item.nodeid), len(FIRST)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """For ``--dist loadscope`` (pyproject's default): xdist's scope scheduler with
    :func:`group` as the scope; other ``--dist`` modes are xdist's own."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return group(nodeid)

    return GroupScheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: ``PYTEST_XDIST_AUTO_NUM_WORKERS`` if set (xdist's own), else one per
    usable core, at most :data:`MAX_WORKERS`; ``-n logical`` is left to xdist."""
    if config.option.numprocesses == "logical" or os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, cores or 1))


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # a worker: hand the tally to the controller
        session.config.workeroutput["faults"] = dict(faultlib.TALLY)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    faultlib.TALLY.update(getattr(node, "workeroutput", {}).get("faults", {}))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workeroutput") or not faultlib.TALLY:
        return
    tally = faultlib.TALLY
    survived = sum(1 for v in tally.values() if v["survived"])
    tr = terminalreporter
    tr.section("fault injection")
    for name, v in tally.items():
        if not v["survived"]:
            tr.write_line(f"NOT SURVIVED {name}: {v['detail'][:300]}")
    tr.write_line(f"faults: {len(tally)} tried, {survived} survived")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny configuration run end to end once per test session; its working folder."""
    workdir = tmp_path_factory.mktemp("tiny-run")
    result = snakemake(workdir)
    if result.returncode != 0:
        pytest.fail(
            "the tiny workflow failed:\n" + result.stdout[-4000:] + "\n" + result.stderr[-8000:]
        )
    return workdir


@pytest.fixture(scope="session")
def report_html(tiny_run):
    """The Snakemake HTML report of the tiny run."""
    result = snakemake(tiny_run, "--report", "report.html")
    if result.returncode != 0:
        pytest.fail("snakemake --report failed:\n" + result.stderr[-6000:])
    return tiny_run / "report.html"
