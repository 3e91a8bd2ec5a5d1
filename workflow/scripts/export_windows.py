"""The Δt windows of one component-year as ICGEM files in one tar.gz (rule export_windows)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.export.windows import export_windows

names = export_windows(sm.input[0], sm.output[0])
log.info("wrote %s (%d window files)", sm.output[0], len(names))
