"""Compact coefficient store: one HDF5 file per letter (or component) and year.

Layout
------
``/cs``      (T, 2, N+1, N+1) float64, dimensionless Stokes coefficients, chunked by epochs
``/time``    (T,) int64, epoch in seconds since 1970-01-01 UTC
``/source``  (T,) str, the file each epoch was parsed from (letter stores only)
``/sha256``  (T,) str, checksum of that file's bytes (letter stores only)
attributes: ``name`` (letter or component), ``year``, ``nmax``, ``gm`` [m^3 s^-2],
``radius`` [m], ``kind`` ("letter" or "component" or "windows").

Each text file is parsed exactly once, here; every later stage reads this store.
"""

import hashlib
import os
from pathlib import Path

import h5py
import numpy as np

from .archive import parse_member_name
from .icgem import ICGEMError, read_icgem

#: Bytes per HDF5 chunk of coefficients (about 4 MiB).
CHUNK_BYTES = 4 << 20


def _chunks(nmax, n_epochs):
    per_epoch = 2 * (nmax + 1) ** 2 * 8
    k = max(1, min(n_epochs, CHUNK_BYTES // per_epoch))
    return (k, 2, nmax + 1, nmax + 1)


def to_seconds(epochs):
    """``datetime64`` array to int64 seconds since 1970."""
    return np.asarray(epochs, dtype="datetime64[s]").astype(np.int64)


def from_seconds(seconds):
    """int64 seconds since 1970 to ``datetime64[s]``."""
    return np.asarray(seconds, dtype=np.int64).astype("datetime64[s]")


class StoreWriter:
    """Write a store epoch by epoch (or block by block) into a temporary file.

    The file appears under its final name only when :meth:`close` succeeds, so a killed job
    never leaves a store that looks complete.
    """

    def __init__(self, path, name, year, nmax, n_epochs, kind, gm, radius, with_sources=False):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".part")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = h5py.File(self.tmp, "w")
        self.cs = self.file.create_dataset(
            "cs", shape=(n_epochs, 2, nmax + 1, nmax + 1), dtype="f8",
            chunks=_chunks(nmax, n_epochs),
        )  # fmt: skip
        self.time = self.file.create_dataset("time", shape=(n_epochs,), dtype="i8")
        self.time.attrs["units"] = "seconds since 1970-01-01 00:00:00 UTC"
        if with_sources:
            self.source = self.file.create_dataset(
                "source", shape=(n_epochs,), dtype=h5py.string_dtype()
            )
            self.sha256 = self.file.create_dataset(
                "sha256", shape=(n_epochs,), dtype=h5py.string_dtype()
            )
        attrs = {"name": name, "year": int(year), "nmax": int(nmax), "kind": kind}
        attrs.update(gm=float(gm), radius=float(radius))
        self.file.attrs.update(attrs)

    def write(self, start, cs, time):
        """Write epochs ``start .. start+len(cs)`` (coefficients and seconds since 1970)."""
        stop = start + len(cs)
        self.cs[start:stop] = cs
        self.time[start:stop] = time

    def close(self):
        """Flush, close and move the file to its final name."""
        self.file.close()
        os.replace(self.tmp, self.path)

    def abort(self):
        """Close and delete the temporary file."""
        try:
            self.file.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


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
    gravsep.icgem.ICGEMError
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
        w.source[:] = names
        w.sha256[:] = sums
        w.file.attrs["gm"], w.file.attrs["radius"] = gm, radius
    return Path(out)


def _read(path, data, nmax):
    try:
        return read_icgem(data, nmax=nmax)
    except ICGEMError as err:
        # name the file, not "<bytes>"
        raise ICGEMError(str(err).replace("<bytes>", str(path), 1)) from None


def read_store(path, start=None, stop=None):
    """Read a store (or epochs ``start:stop`` of it).

    Returns
    -------
    time : numpy.ndarray
        ``datetime64[s]``.
    cs : numpy.ndarray
        ``(T, 2, N+1, N+1)``.
    attrs : dict
    """
    with h5py.File(path, "r") as f:
        sl = slice(start, stop)
        return from_seconds(f["time"][sl]), f["cs"][sl], dict(f.attrs)
