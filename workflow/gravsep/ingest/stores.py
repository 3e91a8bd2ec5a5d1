"""Parse once: one letter-year's 6-hourly ICGEM files into a coefficient store.

The store layout is owned by :mod:`gravsep.formats.store`; the files come from an unpacked
archive (:func:`gravsep.formats.archive.unpack_archive`).
"""

import hashlib
import logging
import tempfile
from pathlib import Path

import numpy as np

from gravsep.formats.archive import missing_members, parse_member_name, unpack_archive
from gravsep.formats.icgem import ICGEMError, read_icgem
from gravsep.formats.store import StoreWriter, to_seconds

log = logging.getLogger(__name__)


def store_from_folder(folder, archive, out, letter, year, nmax):
    """Parse the unpacked files of a letter-year into a store, recovering an incomplete folder.

    The unpacked folder is a temporary output of the workflow: a kill while Snakemake deletes
    it leaves part of it, which a rerun takes for the input. The unpack step guaranteed a
    complete year, so a folder that lacks files is such a remnant: the archive is unpacked
    again, into a scratch folder, and the store is built from that.

    Parameters
    ----------
    folder : path-like
        The unpacked folder of the letter-year.
    archive : path-like
        The archive it was unpacked from (named in errors).
    out : path-like
        Store to write.
    letter, year, nmax
        As for :func:`build_letter_store`.

    Returns
    -------
    int
        Number of files parsed.

    Raises
    ------
    gravsep.formats.icgem.ICGEMError
        A file that cannot be read; the message names it, the line and the archive.
    """
    folder = Path(folder)
    missing = missing_members(folder, letter, year)
    try:
        with tempfile.TemporaryDirectory(prefix="gravsep-unpack-") as scratch:
            if missing:
                log.warning(
                    "%s lacks %d of the year's files (first %s): a remnant of an interrupted "
                    "clean-up; unpacking %s again", folder, len(missing), missing[0], archive,
                )  # fmt: skip
                files = unpack_archive(archive, Path(scratch) / folder.name, letter, year)
            else:
                files = sorted(folder.glob("mtmshc_*.180"))
            build_letter_store(files, out, letter, year, nmax)
    except ICGEMError as err:  # name the archive the file came from, too
        raise ICGEMError(f"{err} (a member of {archive})") from None
    return len(files)


def build_letter_store(files, out, letter, year, nmax):
    """Parse one letter-year's 6-hourly files once into a store.

    Parameters
    ----------
    files : list of path-like
        The unpacked ``mtmshc_<C>_<YYYYMMDD>_<HH>.180`` files of the year.
    out : path-like
        Store to write.
    letter : str
    year : int
    nmax : int
        Maximum degree every file must hold.

    Raises
    ------
    gravsep.formats.icgem.ICGEMError
        A file that cannot be read; the message names it and the line.
    """
    items = []
    for f in files:
        parsed = parse_member_name(Path(f).name)
        if parsed is None or parsed[0] != letter:
            raise ICGEMError(f"{f}: not a file of letter {letter} (mtmshc_{letter}_...)")
        if parsed[1].astype("datetime64[Y]").astype(int) + 1970 != int(year):
            raise ICGEMError(f"{f}: not an epoch of year {year}")
        items.append((parsed[1], Path(f)))
    if not items:
        raise ICGEMError(f"no coefficient files given for {letter} {year}")
    items.sort()
    epochs = np.array([e for e, _ in items], dtype="datetime64[s]")
    if len(np.unique(epochs)) != len(epochs):
        raise ICGEMError(f"duplicate epochs among the files of {letter} {year}")
    gm = radius = None
    n = len(items)
    with StoreWriter(out, letter, year, nmax, n, "letter", 0.0, 0.0, True) as w:
        block = w.cs.chunks[0]
        buf = np.empty((block, 2, nmax + 1, nmax + 1))
        names, sums = [], []
        for i, (_, path) in enumerate(items):
            data = path.read_bytes()
            cs, header = _read(path, data, nmax)
            if gm is None:
                gm, radius = header["gm"], header["radius"]
            elif (header["gm"], header["radius"]) != (gm, radius):
                raise ICGEMError(
                    f"{path}: GM/radius {header['gm']}/{header['radius']} differ from the "
                    f"first file's {gm}/{radius}"
                )
            buf[i % block] = cs
            names.append(path.name)
            sums.append(hashlib.sha256(data).hexdigest())
            if (i + 1) % block == 0 or i + 1 == n:
                start = i - i % block
                w.write(start, buf[: i - start + 1], to_seconds(epochs[start : i + 1]))
        w.set_sources(names, sums)
        w.set_constants(gm, radius)
    return Path(out)


def _read(path, data, nmax):
    try:
        return read_icgem(data, nmax=nmax)
    except ICGEMError as err:
        # name the file, not "<bytes>"
        raise ICGEMError(str(err).replace("<bytes>", str(path), 1)) from None
