"""A noise realisation of a dataset beside its signals (rule noise_figure)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.evaluation.noise_figures import noise_realisation

noise_realisation(sm.input.dataset, sm.output[0], natural_earth=sm.params.natural_earth)
log.info("wrote %s", sm.output[0])
