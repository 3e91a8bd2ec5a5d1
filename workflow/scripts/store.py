"""Parse one letter-year's coefficient files once into a store (rule store)."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.icgem import ICGEMError  # noqa: E402
from gravsep.store import build_letter_store  # noqa: E402

sm = snakemake  # noqa: F821
log = runlog.setup(sm.log[0])
files = sorted(Path(sm.input[0]).glob("mtmshc_*.180"))
try:
    build_letter_store(
        files, sm.output[0], sm.wildcards.letter, int(sm.wildcards.year), sm.params.nmax
    )
except ICGEMError as err:  # name the archive the file came from, too
    raise ICGEMError(f"{err} (a member of {sm.params.archive})") from None
log.info("parsed %d files into %s", len(files), sm.output[0])
