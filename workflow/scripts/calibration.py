"""Calibration of an ensemble's spread, its members' errors and figures (rule calibration)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.evaluation.calibrate import calibrate

calibrate(
    sm.input.dataset,
    sm.input.predictions,
    sm.output.calibration,
    sm.output.members,
    sm.params.model,
    variance_scaling=sm.params.variance_scaling,
    floor=sm.params.floor,
    figures={"spread_maps": sm.output.spread_maps, "reliability": sm.output.reliability},
)
log.info("wrote %s and %s", sm.output.calibration, sm.output.members)
