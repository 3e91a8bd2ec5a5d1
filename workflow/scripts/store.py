"""Parse one letter-year's coefficient files once into a store (rule store)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.ingest.stores import store_from_folder

n = store_from_folder(
    sm.input[0], sm.params.archive, sm.output[0], sm.wildcards.letter, int(sm.wildcards.year),
    sm.params.nmax,
)  # fmt: skip
log.info("parsed %d files into %s", n, sm.output[0])
