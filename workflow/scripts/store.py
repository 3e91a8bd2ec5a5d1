"""Parse one letter-year archive's coefficient files once into a store (rule store)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.ingest.stores import store_from_archive

n = store_from_archive(
    sm.input[0], sm.output[0], sm.wildcards.letter, int(sm.wildcards.year), sm.params.nmax
)
log.info("parsed %d files of %s into %s", n, sm.input[0], sm.output[0])
