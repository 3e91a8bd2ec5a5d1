"""Unpack one ESM archive safely into a flat folder (rule unpack)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.formats.archive import unpack_archive

files = unpack_archive(sm.input[0], sm.output[0], sm.wildcards.letter, int(sm.wildcards.year))
log.info("unpacked %d files from %s", len(files), sm.input[0])
