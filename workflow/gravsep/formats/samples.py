"""The dataset file ``samples.h5``: the input-target pairs of one dataset definition.

Written by the dataset stage (:func:`gravsep.dataset.build.build_dataset`, through
:class:`SamplesWriter`); read by training, prediction, evaluation, the baselines and the
exports, all through :class:`Samples`. This module is the one place that knows the layout.

Layout
------
root attributes
    ``components`` (list of str), ``sampling`` (``lat_lon`` | ``lat_t`` | ``t_lon``),
    ``dim``, ``dim_global``, ``nmax``, ``nmax_flt``, ``unit``, ``extent`` (JSON),
    ``row0``, ``col0`` (the regional cut-out's first row and column in the global grid),
    ``random_samples`` (bool), ``train_years``, ``validation_years``, ``test_years`` (ints),
    ``deltat`` (the windows' time step: hours as text, e.g. ``"168"``, or ``"month"``; absent
    in files written before it was recorded), ``targets`` (bool: false in a file of inputs
    alone, e.g. Level-2 data to separate, which has no ``target`` datasets).
``/lat``, ``/lon`` (dim,) float64 [degrees]
``/years/<YYYY>/input`` (S, dim, dim) [m EWH], the sum of the targets
``/years/<YYYY>/target`` (S, dim, dim, C) [m EWH] (absent where ``targets`` is false)
    both of the storage type (float32 unless asked otherwise), one sample per chunk
``/years/<YYYY>/time`` (numt,) int64 window mid-epochs [s since 1970], ``doy`` (numt,)
    day of year [days, 1 = 1 January 00 h]; group attribute ``numt`` (windows of the year)
``/random/g`` (S, dim), ``/random/g_pinv`` (dim, S)
    only with random samples (method note §3.7): stored samples are ``g @ samples``, the
    originals ``g_pinv @ stored``.
root attributes ``noise`` (the noise definition, JSON) and ``noise_id`` (``none`` or
    ``<model>-<hash>``, :func:`gravsep.harmonics.noise.noise_id`): the input holds the targets'
    sum plus that noise (filtered like the targets).
``/noise/bank`` (K, dim, dim) float32 [m EWH]
    only with noise augmentation: realisations (filtered, on the grid of the samples) that
    training adds to the clean sum of the targets, a fresh draw for every sample and epoch.

S is ``dim`` (``2 dim`` with random samples). Times of the samples themselves: the ``numt``
windows resampled linearly to ``dim`` steps (:func:`gravsep.dataset.sampling.resample_time`).
"""

import json
from contextlib import contextmanager

import numpy as np

from gravsep.dataset.sampling import read_cube
from gravsep.formats.hdf5 import HDF5Reader, HDF5Writer, as_str, as_str_list, int_list
from gravsep.harmonics.noise import noise_id

#: The splits of a dataset, in the order of their attributes.
SPLITS = ("train", "validation", "test")
TIME_UNITS = "seconds since 1970-01-01 00:00:00 UTC"


class SamplesWriter(HDF5Writer):
    """Write ``samples.h5`` year by year under a temporary name (see :mod:`gravsep.atomic`).

    Parameters
    ----------
    path : path-like
    components : list of str
    sampling : str
    lat, lon : numpy.ndarray
        ``(dim,)`` [degrees] of the (regional) grid.
    split : dict
        ``train_years``, ``validation_years``, ``test_years``.
    dtype : numpy.dtype
        Storage type of input and target.
    g, g_pinv : numpy.ndarray, optional
        Random mixing and its pseudo-inverse.
    targets : bool
        Whether the years have targets (False: inputs alone).
    **attrs
        ``dim_global``, ``nmax``, ``nmax_flt``, ``unit``, ``extent`` (dict), ``row0``,
        ``col0``, ``deltat`` (hours or ``"month"``; None: not recorded).
    """

    def _create(self, *, components, sampling, lat, lon, split, dtype, g=None, g_pinv=None,
                targets=True, **attrs):  # fmt: skip
        self.dtype = np.dtype(dtype)
        self.targets = bool(targets)
        self.n_comp = len(components)
        self.dim = len(lat)
        self.n_samples = self.dim if g is None else int(g.shape[0])
        h = self.file
        extent = json.dumps(attrs.pop("extent", {"type": "global"}))
        noise = attrs.pop("noise", None)
        h.attrs["noise"] = json.dumps(noise or {"model": "none"}, sort_keys=True)
        h.attrs["noise_id"] = noise_id(noise)
        h.attrs.update(
            components=list(components), sampling=sampling, dim=self.dim,
            dim_global=attrs.pop("dim_global", self.dim), nmax=attrs.pop("nmax", 0),
            nmax_flt=int(attrs.pop("nmax_flt", 0)), unit=attrs.pop("unit", "EWH"),
            extent=extent, row0=attrs.pop("row0", 0), col0=attrs.pop("col0", 0),
            random_samples=g is not None, targets=self.targets,
            **{f"{s}_years": list(split.get(f"{s}_years", [])) for s in SPLITS},
        )  # fmt: skip
        deltat = attrs.pop("deltat", None)
        if deltat is not None:
            h.attrs["deltat"] = str(deltat)
        if attrs:
            raise TypeError(f"unknown samples.h5 attributes {sorted(attrs)}")
        h["lat"] = np.asarray(lat, dtype=np.float64)
        h["lon"] = np.asarray(lon, dtype=np.float64)
        h["lat"].attrs["units"] = h["lon"].attrs["units"] = "degrees"
        if g is not None:
            h["random/g"] = g
            h["random/g_pinv"] = g_pinv

    def set_noise_bank(self, bank):
        """The augmentation bank ``(K, dim, dim)`` [m EWH] (stored as float32)."""
        self.file.create_dataset("noise/bank", data=np.asarray(bank, dtype=np.float32))

    def add_year(self, year, numt):
        """Create a year's datasets; returns ``(input, target)`` to fill (h5py datasets;
        ``target`` is None in a file of inputs alone)."""
        grp = self.file.create_group(f"years/{int(year)}")
        grp.attrs["numt"] = int(numt)
        dim, s = self.dim, self.n_samples
        target = None
        if self.targets:
            target = grp.create_dataset(
                "target", shape=(s, dim, dim, self.n_comp), dtype=self.dtype,
                chunks=(1, dim, dim, self.n_comp),
            )  # fmt: skip
        inp = grp.create_dataset("input", shape=(s, dim, dim), dtype=self.dtype,
                                 chunks=(1, dim, dim))  # fmt: skip
        return inp, target

    def set_times(self, year, mid):
        """A year's window mid-epochs ``(numt,)`` [s since 1970] and their day of year."""
        grp = self.file[f"years/{int(year)}"]
        mid = np.asarray(mid, dtype=np.int64)
        grp["time"] = mid
        grp["time"].attrs["units"] = TIME_UNITS
        t = mid.astype("datetime64[s]")
        grp["doy"] = (t - t.astype("datetime64[Y]")) / np.timedelta64(1, "D") + 1.0


class Samples(HDF5Reader):
    """Read access to ``samples.h5``; open for the lifetime of the object or a ``with`` block.

    Opening checks that every year's input and target agree in shape with each other and
    with the component list; :meth:`check_splits` that the split years exist.

    Attributes
    ----------
    path : pathlib.Path
    components : list of str
    sampling : str
    dim : int
    lat, lon : numpy.ndarray
        ``(dim,)`` [degrees].
    g, g_pinv : numpy.ndarray or None
        The random mixing and its pseudo-inverse.
    years : list of int
        Every year in the file.
    attrs : dict
        All root attributes.
    has_targets : bool
        False for a file of inputs alone.
    deltat : int, str or None
        Time step of the windows (hours, ``"month"``, or None where not recorded).
    """

    def _open(self):
        f, path = self.file, self.path
        a = f.attrs
        self.attrs = {k: a[k] for k in a}
        self.components = as_str_list(a["components"])
        self.sampling = as_str(a["sampling"])
        self.dim = int(a["dim"])
        self.lat = f["lat"][()] if "lat" in f else None
        self.lon = f["lon"][()] if "lon" in f else None
        self.g_pinv = f["random/g_pinv"][()] if "random/g_pinv" in f else None
        self.g = f["random/g"][()] if "random/g" in f else None
        self.years = sorted(int(y) for y in f["years"]) if "years" in f else []
        self.has_targets = bool(a["targets"]) if "targets" in a else True
        deltat = as_str(a["deltat"]) if "deltat" in a else None
        self.deltat = int(deltat) if deltat is not None and deltat.isdigit() else deltat
        for y in self.years:
            if not self.has_targets:
                continue
            xs, ts = self.input(y).shape, self.target(y).shape
            if ts[:3] != xs or ts[-1] != len(self.components):
                raise ValueError(f"{path}: year {y}: input {xs} and target {ts} differ")

    @property
    def noise_id(self):
        """``none`` or the noise definition's short id (:mod:`gravsep.harmonics.noise`)."""
        return as_str(self.attrs.get("noise_id", "none"))

    def noise(self):
        """The noise definition (dict; ``{"model": "none"}`` for a clean input)."""
        return json.loads(as_str(self.attrs.get("noise", '{"model": "none"}')))

    def noise_bank(self):
        """The augmentation bank ``(K, dim, dim)`` float32 [m], or None."""
        return self.file["noise/bank"][()] if "noise/bank" in self.file else None

    def check_splits(self):
        """Raise ValueError unless every year of every split is in the file."""
        for split in SPLITS:
            missing = sorted(set(self.split_years(split)) - set(self.years))
            if missing:
                raise ValueError(f"{self.path}: {split}_years {missing} not in the dataset")

    def split_years(self, split):
        """The years of a split (``train``, ``validation``, ``test``)."""
        return int_list(self.file.attrs, f"{split}_years")

    def _group(self, year):
        key = f"years/{int(year)}"
        if key not in self.file:
            raise KeyError(f"{self.path} has no {key}")
        return self.file[key]

    def input(self, year):
        """``(S, dim, dim)`` input samples of a year (h5py dataset: slicing reads)."""
        return self._group(year)["input"]

    def target(self, year):
        """``(S, dim, dim, C)`` target samples of a year (h5py dataset)."""
        return self._group(year)["target"]

    def count(self, year):
        """Number of samples of a year."""
        return int(self.input(year).shape[0])

    def time(self, year):
        """Window mid-epochs ``(numt,)`` int64 [s since 1970] of a year."""
        return self._group(year)["time"][()].astype(np.int64)

    def numt(self, year):
        """Number of windows of a year."""
        grp = self._group(year)
        if "numt" in grp.attrs:
            return int(grp.attrs["numt"])
        return len(grp["time"]) if "time" in grp else self.count(year)

    def read(self, year, start=None, stop=None):
        """Samples ``start:stop`` of a year as float32: ``(input, target)``."""
        sl = slice(start, stop)
        grp = self._group(year)
        x = np.asarray(grp["input"][sl], dtype=np.float32)
        return x, np.asarray(grp["target"][sl], dtype=np.float32)

    def cube(self, year, which="target", chunk=16):
        """A year's ``input`` or ``target`` mapped back to its windows.

        Returns
        -------
        numpy.ndarray
            ``(lat, lon, numt)`` (input) or ``(C, lat, lon, numt)`` (target) float32 [m]
            (:func:`gravsep.dataset.sampling.read_cube`).
        """
        data = {"input": self.input, "target": self.target}[which](year)
        return read_cube(data, self.sampling, self.numt(year), self.g_pinv, chunk)


@contextmanager
def opened(dataset):
    """``dataset`` as an open :class:`Samples`: a path is opened and closed after, an open
    :class:`Samples` is used as it is."""
    if isinstance(dataset, Samples):
        yield dataset
        return
    with Samples(dataset) as s:
        yield s


def read_samples(path, years=None):
    """Read the samples of some years into memory.

    Parameters
    ----------
    path : path-like
    years : iterable of int, optional
        Default every year of the file.

    Returns
    -------
    dict
        ``components``, ``sampling``, ``dim``, ``lat``, ``lon``, ``train_years``,
        ``validation_years``, ``test_years`` and ``years``:
        ``{year: {"input": (S, dim, dim), "target": (S, dim, dim, C), "numt": int}}``
        (float32).
    """
    with Samples(path) as s:
        wanted = s.years if years is None else sorted({int(y) for y in years})
        missing = sorted(set(wanted) - set(s.years))
        if missing:
            raise ValueError(f"{path}: years {missing} not in the dataset (has {s.years})")
        out = {"components": s.components, "sampling": s.sampling, "dim": s.dim,
               "lat": s.lat, "lon": s.lon}  # fmt: skip
        out.update({f"{split}_years": s.split_years(split) for split in SPLITS})
        out["years"] = {}
        for y in wanted:
            x, t = s.read(y)
            numt = int(s._group(y).attrs.get("numt", -1))
            out["years"][y] = {"input": x, "target": t, "numt": numt}
    return out
