"""Parse once: one letter-year's 6-hourly ICGEM files into a coefficient store.

The workflow streams the members of the archive straight into the store
(:func:`store_from_archive`): no unpacked copy of the year is made (at degree 180 it would
be about 2 GB), so nothing is left behind by a failure, and memory holds one member (bounded
by the size a file of the degree can have) and one block of epochs. The store layout is owned
by :mod:`gravsep.formats.store`.
"""

import hashlib
from pathlib import Path

import numpy as np

from gravsep.formats.archive import iter_members, parse_member_name, year_epochs
from gravsep.formats.icgem import ICGEMError, max_file_bytes, read_icgem
from gravsep.formats.store import StoreWriter, to_seconds


def store_from_archive(archive, out, letter, year, nmax):
    """Parse the members of a letter-year archive into a store, one member at a time.

    Parameters
    ----------
    archive : path-like
        ``mtm_<YEAR>_<C>.tar.gz``; checked as :func:`gravsep.formats.archive.iter_members`
        does (safe members, names, every epoch once, sizes bounded by ``nmax``).
    out : path-like
        Store to write; it appears only when complete.
    letter, year, nmax
        As for :func:`build_letter_store`.

    Returns
    -------
    int
        Number of files parsed.

    Raises
    ------
    gravsep.formats.archive.ArchiveError, gravsep.formats.icgem.ICGEMError
        The message names the archive, the member and, for a bad line, the line.
    """
    members = iter_members(archive, letter, year, max_file_bytes(nmax))
    return _write_store(members, year_epochs(year), out, letter, year, nmax, archive)


def build_letter_store(files, out, letter, year, nmax):
    """Parse one letter-year's 6-hourly files (already on disk) once into a store.

    Parameters
    ----------
    files : list of path-like
        ``mtmshc_<C>_<YYYYMMDD>_<HH>.180`` files of the year (any subset of its epochs).
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
    limit = max_file_bytes(nmax)
    members = ((str(path), _read_bounded(path, limit)) for _, path in items)
    _write_store(members, epochs, out, letter, year, nmax, None)
    return Path(out)


def _read_bounded(path, limit):
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ICGEMError(
            f"{path}: more than {limit} bytes, more than a file of this degree can hold; "
            "refusing to read it"
        )
    return data


def _write_store(members, epochs, out, letter, year, nmax, archive):
    """Write the store of ``epochs`` from ``(name, bytes)`` members, in any order."""
    index = {int(e): i for i, e in enumerate(to_seconds(epochs))}
    n = len(epochs)
    names, sums = [""] * n, [""] * n
    constants = None
    with StoreWriter(out, letter, year, nmax, n, "letter", 0.0, 0.0, True) as w:
        blocks = _Blocks(w, n)
        for name, data in members:
            i = index[int(to_seconds(parse_member_name(name)[1]))]
            cs, header = _read(name, data, nmax, archive)
            here = (header["gm"], header["radius"])
            if constants is None:
                constants = here
            elif here != constants:
                raise ICGEMError(
                    f"{_where(name, archive)}: GM/radius {here[0]}/{here[1]} differ from the "
                    f"first file's {constants[0]}/{constants[1]}"
                )
            blocks.put(i, cs, int(to_seconds(epochs[i])))
            names[i], sums[i] = Path(name).name, hashlib.sha256(data).hexdigest()
        blocks.flush()
        w.set_sources(names, sums)
        w.set_constants(*constants, norm="fully_normalized")
    return n


class _Blocks:
    """Collects epochs into blocks of the store's chunk size and writes each block at once.

    Members arrive in time order in the ESM archives, so a block is written when the next
    epoch falls outside it; epochs that arrive out of order are written one by one.
    """

    def __init__(self, writer, n):
        self.w, self.n = writer, n
        self.size = writer.cs.chunks[0]
        shape = writer.cs.shape[1:]
        self.buf = np.empty((self.size, *shape))
        self.time = np.zeros(self.size, dtype=np.int64)
        self.filled = np.zeros(self.size, dtype=bool)
        self.block = None

    def put(self, i, cs, t):
        if self.block != i // self.size:
            self.flush()
            self.block = i // self.size
        k = i % self.size
        self.buf[k], self.time[k], self.filled[k] = cs, t, True

    def flush(self):
        if self.block is None:
            return
        start = self.block * self.size
        count = min(self.size, self.n - start)
        if self.filled[:count].all():
            self.w.write(start, self.buf[:count], self.time[:count])
        else:
            for k in np.flatnonzero(self.filled):
                self.w.write(start + k, self.buf[k : k + 1], self.time[k : k + 1])
        self.filled[:] = False
        self.block = None


def _where(name, archive):
    return str(name) if archive is None else f"{name} (a member of {archive})"


def _read(name, data, nmax, archive):
    try:
        return read_icgem(data, nmax=nmax)
    except ICGEMError as err:
        # name the file (and the archive it came from), not "<bytes>"
        message = str(err).replace("<bytes>", str(name), 1)
        if archive is not None:
            message += f" (a member of {archive})"
        raise ICGEMError(message) from None
