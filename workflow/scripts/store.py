"""Parse one letter-year's coefficient files once into a store (rule store)."""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.archive import missing_members, unpack_archive  # noqa: E402
from gravsep.icgem import ICGEMError  # noqa: E402
from gravsep.store import build_letter_store  # noqa: E402

sm = snakemake  # noqa: F821
log = runlog.setup(sm.log[0])
folder, letter, year = Path(sm.input[0]), sm.wildcards.letter, int(sm.wildcards.year)
# The unpacked folder is a temporary output: a kill while Snakemake deletes it leaves part of
# it, which a rerun takes for the input. The unpack rule guaranteed a complete year, so a
# folder that lacks files is such a remnant: unpack the archive again, into a scratch folder.
missing = missing_members(folder, letter, year)
try:
    with tempfile.TemporaryDirectory(prefix="gravsep-unpack-") as scratch:
        if missing:
            log.warning(
                "%s lacks %d of the year's files (first %s): a remnant of an interrupted "
                "clean-up; unpacking %s again", folder, len(missing), missing[0],
                sm.params.archive,
            )  # fmt: skip
            files = unpack_archive(sm.params.archive, Path(scratch) / folder.name, letter, year)
        else:
            files = sorted(folder.glob("mtmshc_*.180"))
        build_letter_store(files, sm.output[0], letter, year, sm.params.nmax)
except ICGEMError as err:  # name the archive the file came from, too
    raise ICGEMError(f"{err} (a member of {sm.params.archive})") from None
log.info("parsed %d files into %s", len(files), sm.output[0])
