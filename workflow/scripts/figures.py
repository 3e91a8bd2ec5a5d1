"""PNG figures of one evaluated model (rule figures)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
import gravsep.runlog  # noqa: E402

log = gravsep.runlog.setup(snakemake.log[0])  # noqa: F821

from gravsep.figures import FIGURES, all_figures  # noqa: E402

sm = snakemake  # noqa: F821
outputs = {key: getattr(sm.output, key) for key in FIGURES}
all_figures(
    sm.input.evaluation,
    sm.input.training_log,
    outputs,
    natural_earth=sm.params.natural_earth,
    model=sm.params.model,
)
log.info("wrote %s", ", ".join(str(p) for p in outputs.values()))
