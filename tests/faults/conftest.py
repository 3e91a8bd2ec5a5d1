"""Fault-injection suite (``pytest -m faults``): the tally of faults tried and survived."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faultlib  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "faults: fault injection (kill and rerun, bad inputs, determinism)"
    )


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tally = faultlib.TALLY
    if not tally:
        return
    survived = sum(1 for v in tally.values() if v["survived"])
    tr = terminalreporter
    tr.section("fault injection")
    for name, v in tally.items():
        if not v["survived"]:
            tr.write_line(f"NOT SURVIVED {name}: {v['detail'][:300]}")
    tr.write_line(f"faults: {len(tally)} tried, {survived} survived")
