"""Allocator setting of the workflow's processes (gravsep.malloc)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parents[1] / "workflow"

PROBE = """
import resource, sys
import numpy as np
sys.path.insert(0, {workflow!r})
from gravsep.malloc import retain_freed_memory

def faults(size):
    for _ in range(3):
        np.ones(size // 8)
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(40):
        np.ones(size // 8)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

before = faults(8 << 20)
print(before, retain_freed_memory(), faults(8 << 20), faults(20 << 20))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_blocks_are_reused_without_page_faults():
    """With glibc's fixed 128 KiB mmap threshold (set through the environment, which turns
    off its dynamic raise), every 8 MiB array is a fresh mapping that faults its pages in
    again (hundreds of faults each, fewer with transparent huge pages). After the call, 40
    arrays of 8 and of 20 MiB reuse the same memory: not one fault per array."""
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(workflow=str(WORKFLOW))],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    before, accepted, small, large = out.stdout.split()
    assert accepted == "True"
    assert int(before) > 40 * 100, out.stdout
    assert int(small) < 40 and int(large) < 40, out.stdout
