"""Level-2 files read, corrected and sampled for the model (rule apply_prepare)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.level2.prepare import prepare

report = prepare(
    list(sm.input.files), sm.params.format, dict(sm.params.processing),
    dict(sm.params.corrections), sm.input.model_dataset, sm.input.model_parameters,
    sm.output.series, sm.output.samples, sm.output.report, model=sm.params.model,
    truth=list(sm.input.truth) or None,
)  # fmt: skip
for d in report["dropped"]:
    log.warning("dropped %s (%s): %s", d["month"], d["source"], d["reason"])
