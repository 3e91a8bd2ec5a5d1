"""Unpack one ESM archive safely into a flat folder (rule unpack)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.archive import unpack_archive  # noqa: E402

log = runlog.setup(snakemake.log[0])  # noqa: F821
files = unpack_archive(
    snakemake.input[0],  # noqa: F821
    snakemake.output[0],  # noqa: F821
    snakemake.wildcards.letter,  # noqa: F821
    int(snakemake.wildcards.year),  # noqa: F821
)
log.info("unpacked %d files from %s", len(files), snakemake.input[0])  # noqa: F821
