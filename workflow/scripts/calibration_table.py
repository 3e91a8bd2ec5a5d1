"""The calibration rows of every ensemble model in one CSV (rule calibration_table)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.evaluation.calibrate import calibration_table

calibration_table(list(sm.input), sm.output[0])
log.info("wrote %s", sm.output[0])
