"""Coefficient stores: one HDF5 file of spherical-harmonic coefficients per name and year.

The four kinds of the ingest and preprocess stages share one layout: ``letter`` stores (the
6-hourly fields of one letter, parsed once from the archive's text files), ``component``
stores (letters summed, e.g. AO), ``windows`` (means over deltat windows) and ``anomalies``
(windows less their yearly mean, or copied unchanged).

Layout
------
``/cs``           (T, 2, N+1, N+1) float64, dimensionless Stokes coefficients (pyshtools
                  ``cilm`` order), chunked by epochs (about 4 MiB a chunk)
``/time``         (T,) int64, epoch (windows: window start) [s since 1970-01-01 UTC]
``/time_end``     (T,) int64, window end [s since 1970] (windows and anomalies only)
``/yearly_mean``  (2, N+1, N+1) float64, the mean removed (anomalies only; zeros if none was)
``/source``       (T,) str, the file each epoch was parsed from (letter stores only)
``/sha256``       (T,) str, checksum of that file's bytes (letter stores only)
attributes: ``name`` (letter or component), ``year``, ``nmax``, ``gm`` [m^3 s^-2],
``radius`` [m], ``kind`` (one of :data:`KINDS`); letter stores also ``norm``
(``fully_normalized``, the only normalisation read).

This module owns the layout: :class:`StoreWriter` writes it, :class:`Store` and
:func:`read_store` read it. A store appears under its final name only when complete
(:mod:`gravsep.atomic`).
"""

import h5py
import numpy as np

from gravsep.formats.hdf5 import HDF5Reader, HDF5Writer

#: Bytes per HDF5 chunk of coefficients (about 4 MiB).
CHUNK_BYTES = 4 << 20
#: The kinds of store.
KINDS = ("letter", "component", "windows", "anomalies")
TIME_UNITS = "seconds since 1970-01-01 00:00:00 UTC"


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


class StoreWriter(HDF5Writer):
    """Write a store epoch by epoch (or block by block) into a temporary file.

    The file appears under its final name only when :meth:`close` succeeds, so a killed job
    never leaves a store that looks complete; a failure while opening removes what was made.

    Parameters
    ----------
    path : path-like
    name : str
        Letter or component.
    year, nmax, n_epochs : int
    kind : str
        One of :data:`KINDS`.
    gm, radius : float
        [m^3 s^-2], [m]; may be set later with :meth:`set_constants`.
    with_sources : bool
        Create ``/source`` and ``/sha256`` (letter stores).
    """

    #: A chunk cache that holds a whole chunk, so that epochs written one at a time (out of
    #: order) are written to disk once per chunk.
    file_options = {"rdcc_nbytes": 2 * CHUNK_BYTES + (1 << 20)}

    def _create(self, name, year, nmax, n_epochs, kind, gm, radius, with_sources=False):
        self.cs = self.file.create_dataset(
            "cs", shape=(n_epochs, 2, nmax + 1, nmax + 1), dtype="f8",
            chunks=_chunks(nmax, n_epochs),
        )  # fmt: skip
        self.time = self.file.create_dataset("time", shape=(n_epochs,), dtype="i8")
        self.time.attrs["units"] = TIME_UNITS
        if with_sources:
            self.source = self.file.create_dataset(
                "source", shape=(n_epochs,), dtype=h5py.string_dtype()
            )
            self.sha256 = self.file.create_dataset(
                "sha256", shape=(n_epochs,), dtype=h5py.string_dtype()
            )
        if kind not in KINDS:
            raise ValueError(f"{self.path}: unknown store kind {kind!r}; one of {KINDS}")
        attrs = {"name": name, "year": int(year), "nmax": int(nmax), "kind": kind}
        attrs.update(gm=float(gm), radius=float(radius))
        self.file.attrs.update(attrs)

    def write(self, start, cs, time):
        """Write epochs ``start .. start+len(cs)`` (coefficients and seconds since 1970)."""
        stop = start + len(cs)
        self.cs[start:stop] = cs
        self.time[start:stop] = time

    def set_window_ends(self, time_end):
        """``/time_end``: window ends [s since 1970] (windows and anomalies)."""
        self.file.create_dataset("time_end", data=np.asarray(time_end, dtype=np.int64))
        self.file["time_end"].attrs["units"] = TIME_UNITS

    def set_yearly_mean(self, mean):
        """``/yearly_mean`` (2, N+1, N+1): the mean removed from every window (anomalies)."""
        self.file.create_dataset("yearly_mean", data=mean)

    def set_sources(self, names, sha256):
        """The file name and SHA-256 of every epoch (letter stores)."""
        self.source[:] = names
        self.sha256[:] = sha256

    def set_constants(self, gm, radius, norm=None):
        """GM [m^3 s^-2], reference radius [m] and normalisation of the coefficients."""
        self.file.attrs["gm"], self.file.attrs["radius"] = float(gm), float(radius)
        if norm is not None:
            self.file.attrs["norm"] = norm


class Store(HDF5Reader):
    """Read access to a store, open for the lifetime of the object (or a ``with`` block).

    Attributes
    ----------
    path : pathlib.Path
    attrs : dict
        ``name``, ``year``, ``nmax``, ``gm``, ``radius``, ``kind``.
    time : numpy.ndarray
        ``(T,)`` int64 [s since 1970]: epochs, or window starts.
    time_end : numpy.ndarray or None
        ``(T,)`` int64 window ends (windows and anomalies).
    cs : h5py.Dataset
        ``(T, 2, N+1, N+1)``; slicing reads from the file.
    """

    def _open(self):
        self.attrs = dict(self.file.attrs)
        self.cs = self.file["cs"]
        self.time = self.file["time"][:]
        self.time_end = self.file["time_end"][:] if "time_end" in self.file else None

    @property
    def nmax(self):
        return int(self.attrs["nmax"])

    def __len__(self):
        return int(self.cs.shape[0])

    def yearly_mean(self):
        """The mean removed from the windows, or None (not an anomaly store)."""
        return self.file["yearly_mean"][()] if "yearly_mean" in self.file else None

    def window_mids(self):
        """Window mid-epochs ``(T,)`` int64 [s since 1970] (windows and anomalies)."""
        if self.time_end is None:
            raise ValueError(f"{self.path}: a {self.attrs.get('kind')} store has no window ends")
        return (self.time + self.time_end) // 2


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
