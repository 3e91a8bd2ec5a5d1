"""Two runs of the tiny configuration with the same seeds give the same results.

The second run is made in a fresh folder; datasets, stores, predictions and every other array
must equal the first run's (``tiny_run``) bit for bit, the metrics tables byte for byte.
"""

import faultlib as fl
import pytest

pytestmark = [pytest.mark.faults, pytest.mark.workflow]


def test_same_seed_same_results(tiny_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("second-run")
    result = fl.run(work, profile=False)
    assert result.returncode == 0, result.stderr[-4000:]
    datasets = fl.result_files(work)
    assert any(p.startswith("datasets/") and p.endswith("samples.h5") for p in datasets)
    assert "metrics.csv" in datasets
    key = lambda p: p.startswith("datasets/") or p.endswith("metrics.csv")  # noqa: E731
    essential = fl.compare_runs(tiny_run, work, only=key)
    assert not essential, "datasets or metrics differ:\n" + "\n".join(essential)
    everything = fl.compare_runs(tiny_run, work)
    assert not everything, "outputs differ between runs:\n" + "\n".join(everything[:40])
