"""Maps and degree amplitudes of the synthetic model (rule synthetic_figures)."""

import sys

import matplotlib

matplotlib.use("Agg")
sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.synthetic import load_model  # noqa: E402
from gravsep.synthetic_plots import plot_component_maps, plot_degree_amplitudes  # noqa: E402

sm = snakemake  # noqa: F821
log = runlog.setup(sm.log[0])
model = load_model(sm.input.model)
plot_component_maps(model, sm.output.maps, natural_earth=sm.params.natural_earth)
log.info("wrote %s", sm.output.maps)
plot_degree_amplitudes(model, sm.output.spectra)
log.info("wrote %s", sm.output.spectra)
