"""Metrics CSV and evaluation HDF5 of one model (rule evaluate)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
import gravsep.runlog  # noqa: E402

log = gravsep.runlog.setup(snakemake.log[0])  # noqa: F821

from gravsep.evaluation import evaluate  # noqa: E402

sm = snakemake  # noqa: F821
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
