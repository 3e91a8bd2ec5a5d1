"""The embedded default (config/config.yaml) end to end: the U-Net must beat the baselines.

This is README command 1's workflow in a scratch folder (minutes on 2 cores). Skip it with
``GRAVSEP_SKIP_DEFAULT_RUN=1`` for quick local iterations; CI runs it.
"""

import os

import pandas as pd
import pytest
from workflow_helpers import REPO, snakemake

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.skipif(
        os.environ.get("GRAVSEP_SKIP_DEFAULT_RUN") == "1" and os.environ.get("CI") != "true",
        reason="GRAVSEP_SKIP_DEFAULT_RUN=1",
    ),
]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("default-run")
    result = snakemake(workdir, configfile=REPO / "config" / "config.yaml", timeout=3000)
    if result.returncode != 0:
        pytest.fail("the default workflow failed:\n" + result.stderr[-8000:])
    return workdir


def test_unet_beats_zero_and_proportional_for_every_component(default_run):
    df = pd.read_csv(default_run / "results" / "metrics.csv")
    test = df[(df["split"] == "test") & (df["component"] != "sum")]
    table = test.pivot_table(index=["model", "component"], columns="method", values="rel_rms")
    assert set(table.index.get_level_values("model")) == {"latlon", "tlon"}
    assert set(table.index.get_level_values("component")) == {"AO", "H", "I", "S"}
    for baseline in ("zero", "proportional"):
        worse = table[table["unet"] >= table[baseline]]
        assert worse.empty, f"U-Net not below the {baseline} baseline:\n{worse}"
    # the lat_lon model separates the large components well
    latlon = table.loc["latlon"]
    assert (latlon.loc[["AO", "H", "I"], "unet"] < 0.6).all(), latlon


def test_default_report_builds(default_run):
    result = snakemake(default_run, "--report", "report.html",
                       configfile=REPO / "config" / "config.yaml")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    html = (default_run / "report.html").read_text(errors="replace")
    assert "metrics.html" in html and "component_maps.png" in html
