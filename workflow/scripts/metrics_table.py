"""Merged metrics CSV and HTML table of all models (rule metrics_table)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
import gravsep.runlog  # noqa: E402

log = gravsep.runlog.setup(snakemake.log[0])  # noqa: F821

from gravsep.figures import model_comparison  # noqa: E402
from gravsep.tables import unet_beats_baselines, write_tables  # noqa: E402

sm = snakemake  # noqa: F821
df = write_tables(list(sm.input.metrics), sm.output.csv, sm.output.html)
failures = unet_beats_baselines(df, split="test")
if failures:
    log.warning("the network does not beat every baseline on the test year:")
    for line in failures:
        log.warning("  %s", line)
else:
    log.info("the network beats every baseline on every test component")
model_comparison(df, sm.output.comparison)
log.info("wrote %s, %s and %s", sm.output.csv, sm.output.html, sm.output.comparison)
