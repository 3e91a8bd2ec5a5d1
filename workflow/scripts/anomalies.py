"""Subtract each year's mean of the windows (rule anomalies)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.preprocess import remove_yearly_mean  # noqa: E402

sm = snakemake  # noqa: F821
log = runlog.setup(sm.log[0])
remove_yearly_mean(sm.input[0], sm.output[0], subtract=sm.params.remove_yearly_mean)
log.info("wrote %s (yearly mean removed: %s)", sm.output[0], sm.params.remove_yearly_mean)
