"""PNG figures of one evaluated model (rule figures)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.evaluation.figures import FIGURES, all_figures

outputs = {key: getattr(sm.output, key) for key in FIGURES}
all_figures(
    sm.input.evaluation,
    sm.input.training_log,
    outputs,
    natural_earth=sm.params.natural_earth,
    model=sm.params.model,
)
log.info("wrote %s", ", ".join(str(p) for p in outputs.values()))
