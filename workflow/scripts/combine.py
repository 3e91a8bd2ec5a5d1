"""Sum the letters of a component epoch by epoch (rule combine)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.ingest.preprocess import combine

combine(list(sm.input), sm.output[0], sm.wildcards.comp, int(sm.wildcards.year))
log.info("combined %s into %s", list(sm.input), sm.output[0])
