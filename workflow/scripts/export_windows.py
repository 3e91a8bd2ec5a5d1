"""The Δt windows of one component-year as ICGEM files in one tar.gz (rule export_windows)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.window_export import export_windows  # noqa: E402

sm = snakemake  # noqa: F821
log = runlog.setup(sm.log[0])
names = export_windows(sm.input[0], sm.output[0])
log.info("wrote %s (%d window files)", sm.output[0], len(names))
