"""The corrected Level-2 series ``series.h5`` of an apply run: one field per month.

Written by :func:`gravsep.level2.prepare.prepare` through :class:`SeriesWriter`; read by the
apply products through :class:`Series`.

Layout
------
``/stokes``      (T, 2, N+1, N+1) float64: fully normalised dimensionless Stokes coefficients
                 in the model's GM and radius (:mod:`gravsep.constants`), every correction
                 applied and the mean field removed
``/mean_removed`` (2, N+1, N+1) float64: the mean field subtracted (zeros if none was)
``/span_start``, ``/span_end`` (T,) int64: the data span of each month [s since 1970 UTC],
                 end excluded, as the input files give it
``/source``      (T,) str: the input file of each month
attributes: ``nmax``, ``gm`` [m^3 s^-2], ``radius`` [m], ``format`` (of the inputs),
``corrections`` (JSON: what was applied to which month).
"""

import json

import h5py
import numpy as np

from gravsep.formats.hdf5 import HDF5Reader, HDF5Writer, as_str

TIME_UNITS = "seconds since 1970-01-01 00:00:00 UTC"


class SeriesWriter(HDF5Writer):
    """Write ``series.h5`` at once under a temporary name.

    Parameters
    ----------
    path : path-like
    cs : numpy.ndarray
        ``(T, 2, N+1, N+1)``.
    mean : numpy.ndarray
        ``(2, N+1, N+1)``.
    start, end : numpy.ndarray
        ``(T,)`` ``datetime64`` or int64 seconds.
    sources : list of str
    gm, radius : float
    fmt : str
    corrections : dict
    """

    def _create(self, *, cs, mean, start, end, sources, gm, radius, fmt, corrections):
        f = self.file
        f.create_dataset("stokes", data=np.asarray(cs, dtype=np.float64))
        f.create_dataset("mean_removed", data=np.asarray(mean, dtype=np.float64))
        for key, t in (("span_start", start), ("span_end", end)):
            f.create_dataset(key, data=np.asarray(t, dtype="datetime64[s]").astype(np.int64))
            f[key].attrs["units"] = TIME_UNITS
        f.create_dataset("source", data=list(sources), dtype=h5py.string_dtype())
        f.attrs.update(nmax=int(np.shape(cs)[-1] - 1), gm=float(gm), radius=float(radius),
                       format=str(fmt), corrections=json.dumps(corrections))  # fmt: skip


class Series(HDF5Reader):
    """Read access to ``series.h5``.

    Attributes
    ----------
    cs : numpy.ndarray
        ``(T, 2, N+1, N+1)``.
    mean : numpy.ndarray
    start, end : numpy.ndarray
        ``(T,)`` int64 [s since 1970].
    sources : list of str
    attrs : dict
        ``nmax``, ``gm``, ``radius``, ``format``; ``corrections`` parsed from JSON.
    """

    def _open(self):
        f = self.file
        self.cs = f["stokes"][()]
        self.mean = f["mean_removed"][()]
        self.start = f["span_start"][()].astype(np.int64)
        self.end = f["span_end"][()].astype(np.int64)
        self.sources = [as_str(s) for s in f["source"][()]]
        self.attrs = {k: f.attrs[k] for k in f.attrs}
        self.attrs["corrections"] = json.loads(as_str(self.attrs["corrections"]))
        self.attrs["format"] = as_str(self.attrs["format"])

    @property
    def mid(self):
        """Mid-epochs of the months [s since 1970]."""
        return (self.start + self.end) // 2
