"""Sum the letters of a component epoch by epoch (rule combine)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.preprocess import combine  # noqa: E402

sm = snakemake  # noqa: F821
log = runlog.setup(sm.log[0])
combine(list(sm.input), sm.output[0], sm.wildcards.comp, int(sm.wildcards.year))
log.info("combined %s into %s", list(sm.input), sm.output[0])
