"""Metrics and evaluation HDF5 of a model (rule evaluate; rule evaluate_on: metrics only)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.evaluation.evaluate import evaluate

evaluation_h5 = getattr(sm.output, "evaluation", None)  # rule evaluate_on writes none
df = evaluate(
    sm.input.dataset,
    sm.input.predictions,
    evaluation_h5,
    sm.output.metrics,
    sm.params.model,
    training_log=getattr(sm.input, "training_log", None),
    classical=sm.params.classical,
)
for (method, split), grp in df.groupby(["method", "split"]):
    log.info(
        "%s %s: mean relative RMS error over components %.3f",
        method,
        split,
        grp.loc[grp["component"] != "sum", "rel_rms"].mean(),
    )
log.info("wrote %s", ", ".join(str(p) for p in (evaluation_h5, sm.output.metrics) if p))
