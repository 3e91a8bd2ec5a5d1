"""Maps and degree amplitudes of the synthetic model (rule synthetic_figures)."""

import matplotlib
from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

matplotlib.use("Agg")

from gravsep.synthetic.model import load_model
from gravsep.synthetic.plots import plot_component_maps, plot_degree_amplitudes

model = load_model(sm.input.model)
plot_component_maps(model, sm.output.maps, natural_earth=sm.params.natural_earth)
log.info("wrote %s", sm.output.maps)
plot_degree_amplitudes(model, sm.output.spectra)
log.info("wrote %s", sm.output.spectra)
