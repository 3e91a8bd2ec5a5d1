"""Maps of the separated fields and the regional time series (rule apply_figures)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.level2.plots import maps, regional_series

maps(sm.input.netcdf, sm.output.maps, natural_earth=sm.params.natural_earth)
regional_series(sm.input.regions, sm.output.regions)
log.info("wrote %s and %s", sm.output.maps, sm.output.regions)
