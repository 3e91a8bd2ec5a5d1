"""Means over deltat windows that start in one year (rule windows)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.preprocess import window_means  # noqa: E402

sm = snakemake  # noqa: F821
log = runlog.setup(sm.log[0])
window_means(
    list(sm.input), sm.output[0], sm.wildcards.comp, sm.params.years, sm.params.deltat,
    int(sm.wildcards.year),
)  # fmt: skip
log.info("wrote windows of %s %s", sm.wildcards.comp, sm.wildcards.year)
