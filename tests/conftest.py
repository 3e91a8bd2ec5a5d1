"""Shared fixtures: the tiny workflow run once per session, and its report."""

import pytest
from workflow_helpers import snakemake


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
