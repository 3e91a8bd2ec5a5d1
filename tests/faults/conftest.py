"""Fault-injection suite (``pytest -m faults``); its tally is printed by ``tests/conftest.py``
(gathered from every worker of a parallel run)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
