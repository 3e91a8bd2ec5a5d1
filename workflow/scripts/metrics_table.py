"""Merged metrics CSV and HTML table of all models (rule metrics_table)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.evaluation.figures import model_comparison
from gravsep.evaluation.tables import unet_beats_baselines, write_tables

# the models' rows, the cross-evaluations, then the apply-versus-truth rows (split apply)
df = write_tables(
    [*sm.input.metrics, *sm.input.cross, *sm.input.apply], sm.output.csv, sm.output.html
)
failures = unet_beats_baselines(df, split="test")
if failures:
    log.warning("the network does not beat every baseline on the test year:")
    for line in failures:
        log.warning("  %s", line)
else:
    log.info("the network beats every baseline on every test component")
model_comparison(
    df,
    sm.output.comparison,
    inputs=list(sm.params.compared_inputs),
    labels=dict(sm.params.input_labels),
)
log.info("wrote %s, %s and %s", sm.output.csv, sm.output.html, sm.output.comparison)
