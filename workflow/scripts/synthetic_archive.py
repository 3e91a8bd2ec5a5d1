"""Write one letter-year archive of the synthetic model (rule synthetic_archive)."""

import time

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.synthetic.archives import write_year_archive
from gravsep.synthetic.model import load_model

start = time.perf_counter()
model = load_model(sm.input.model)
year, letter = int(sm.wildcards.year), sm.wildcards.letter
write_year_archive(model, letter, year, sm.output[0])
log.info("wrote %s in %.1f s", sm.output[0], time.perf_counter() - start)
