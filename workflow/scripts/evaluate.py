"""Metrics CSV and evaluation HDF5 of one model (rule evaluate)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.evaluation.evaluate import evaluate

df = evaluate(
    sm.input.dataset,
    sm.input.predictions,
    sm.output.evaluation,
    sm.output.metrics,
    sm.params.model,
    training_log=sm.input.training_log,
)
for (method, split), grp in df.groupby(["method", "split"]):
    log.info(
        "%s %s: mean relative RMS error over components %.3f",
        method,
        split,
        grp.loc[grp["component"] != "sum", "rel_rms"].mean(),
    )
log.info("wrote %s and %s", sm.output.evaluation, sm.output.metrics)
