"""Means over deltat windows that start in one year (rule windows)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.ingest.preprocess import window_means

window_means(
    list(sm.input), sm.output[0], sm.wildcards.comp, sm.params.years, sm.params.deltat,
    int(sm.wildcards.year),
)  # fmt: skip
log.info("wrote windows of %s %s", sm.wildcards.comp, sm.wildcards.year)
