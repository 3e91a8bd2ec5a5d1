"""Compact coefficient store: one HDF5 file per letter (or component) and year.

Layout
------
``/cs``      (T, 2, N+1, N+1) float64, dimensionless Stokes coefficients, chunked by epochs
``/time``    (T,) int64, epoch in seconds since 1970-01-01 UTC
``/source``  (T,) str, the file each epoch was parsed from (letter stores only)
``/sha256``  (T,) str, checksum of that file's bytes (letter stores only)
attributes: ``name`` (letter or component), ``year``, ``nmax``, ``gm`` [m^3 s^-2],
``radius`` [m], ``kind`` ("letter" or "component" or "windows").

Each text file is parsed exactly once, into a letter store (:mod:`gravsep.ingest.stores`);
every later stage reads stores. This module owns the layout: :class:`StoreWriter` writes it,
:func:`read_store` reads it.
"""

from pathlib import Path

import h5py
import numpy as np

from gravsep.atomic import atomic_output

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
        self._output = atomic_output(self.path)
        self.tmp = self._output.begin()
        self.file = None
        try:
            self.file = h5py.File(self.tmp, "w")
            self._create(name, year, nmax, n_epochs, kind, gm, radius, with_sources)
        except BaseException:
            self.abort()  # a writer that fails while opening removes what it made
            raise

    def _create(self, name, year, nmax, n_epochs, kind, gm, radius, with_sources):
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
        try:
            self.file.close()
        except BaseException:
            self._output.discard()
            raise
        self._output.commit()

    def abort(self):
        """Close and delete the temporary file."""
        try:
            if self.file is not None:
                self.file.close()
        finally:
            self._output.discard()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


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
