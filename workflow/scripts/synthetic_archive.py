"""Write one letter-year archive of the synthetic model (rule synthetic_archive)."""

import sys
import time

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.synthetic import load_model, write_year_archive  # noqa: E402

sm = snakemake  # noqa: F821
log = runlog.setup(sm.log[0])
start = time.perf_counter()
model = load_model(sm.input.model)
year, letter = int(sm.wildcards.year), sm.wildcards.letter
write_year_archive(model, letter, year, sm.output[0])
log.info("wrote %s in %.1f s", sm.output[0], time.perf_counter() - start)
