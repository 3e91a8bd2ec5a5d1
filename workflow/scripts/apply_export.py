"""NetCDF-CF, ICGEM, regional means, apply-versus-truth metrics and summary (rule apply_export)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.level2.products import export_apply

out = {k: sm.output[k] for k in ("netcdf", "icgem", "regions", "metrics", "summary")}
result = export_apply(
    sm.input.series, sm.input.samples, list(sm.input.predictions), sm.input.report,
    sm.input.model_dataset, out, name=sm.params.name, model=sm.params.model,
    regions=dict(sm.params.regions), land_shapefile=sm.input.land,
    input_noise=sm.params.input_noise,
)  # fmt: skip
log.info("residual of the sum (relative RMS): %s", result["residual"])
log.info("regions (grid cells): %s", result["regions"])
if not result["metrics"].empty:
    log.info("apply versus truth:\n%s", result["metrics"].to_string(index=False))
