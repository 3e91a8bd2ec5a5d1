"""NetCDF-CF grids and ICGEM coefficient archive of one model's separated fields (rule export)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.export.separated import export

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
