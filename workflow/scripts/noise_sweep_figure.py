"""Relative error per component against the noise scale (rule noise_sweep_figure)."""

import pandas as pd
from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.evaluation.noise_figures import error_against_noise

error_against_noise(
    pd.read_csv(sm.input.metrics), dict(sm.params.scales), list(sm.params.models), sm.output[0]
)
log.info("wrote %s", sm.output[0])
