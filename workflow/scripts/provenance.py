"""The resolved configuration and the software that ran it (rule provenance)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.provenance import write_config_record  # noqa: E402

sm = snakemake  # noqa: F821
log = runlog.setup(sm.log[0])
write_config_record(sm.output.config, sm.params.config, sm.params.models, sm.params.datasets)
log.info("wrote %s", sm.output.config)
