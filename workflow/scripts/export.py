"""NetCDF-CF grids and ICGEM coefficient archive of one model's separated fields (rule export)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
import gravsep.runlog  # noqa: E402

log = gravsep.runlog.setup(snakemake.log[0])  # noqa: F821

from gravsep.export import export  # noqa: E402

sm = snakemake  # noqa: F821
result = export(
    sm.input.dataset,
    sm.input.predictions,
    sm.output.netcdf,
    sm.output.icgem,
    model=sm.params.model,
    evaluation_h5=sm.input.evaluation,
    deltat_hours=sm.params.deltat,
)
log.info(
    "exported %d windows: %s and %d ICGEM files in %s",
    result["windows"],
    sm.output.netcdf,
    len(result["icgem"]),
    sm.output.icgem,
)
