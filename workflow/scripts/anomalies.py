"""Subtract each year's mean of the windows (rule anomalies)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.ingest.preprocess import remove_yearly_mean

remove_yearly_mean(sm.input[0], sm.output[0], subtract=sm.params.remove_yearly_mean)
log.info("wrote %s (yearly mean removed: %s)", sm.output[0], sm.params.remove_yearly_mean)
