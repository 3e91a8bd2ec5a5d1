"""The prediction file ``predictions.h5``: a trained model's output for every year of a dataset.

Written by :func:`gravsep.network.inference.predict` through :class:`PredictionsWriter`; read
by the evaluation and the exports through :class:`Predictions`.

Layout
------
root attributes
    ``components``, ``sampling`` (as the dataset's), ``model``, ``inference_mode``,
    ``batch_size``, ``train_years``, ``validation_years``, ``test_years``, ``units`` (``m``).
``/lat``, ``/lon`` (dim,) [degrees], copied from the dataset when present
``/years/<YYYY>/prediction`` (S, dim, dim, C) float32 [m EWH], in the sample layout of the
    dataset (:mod:`gravsep.formats.samples`); group attribute ``numt`` copied from it.

An ensemble (:mod:`gravsep.ensemble`: several members, or several MC-dropout passes) also has
root attributes ``members`` (networks) and ``mc_passes`` (passes of each), and per year
``/years/<YYYY>/members`` (M, S, dim, dim, C) float32 [m]: every member's pass (member-major,
``M = members * mc_passes``), of which ``prediction`` is the mean, and
``/years/<YYYY>/spread`` (S, dim, dim, C) float32 [m]: their standard deviation (``ddof=1``)
in the sample layout. The spread per component, pixel and window is that of the members mapped
back (:meth:`Predictions.spread_cube`). A single model's file has none of these.
"""

import numpy as np

from gravsep.dataset.sampling import read_cube
from gravsep.formats.hdf5 import HDF5Reader, HDF5Writer, as_str, as_str_list

SPLITS = ("train", "validation", "test")


def spread(members, axis=0):
    """Standard deviation of the members (``ddof=1``; zero for one member) as float32."""
    members = np.asarray(members, dtype=np.float64)
    if members.shape[axis] < 2:
        return np.zeros(np.delete(members.shape, axis), np.float32)
    return members.std(axis=axis, ddof=1).astype(np.float32)


class PredictionsWriter(HDF5Writer):
    """Write ``predictions.h5`` year by year under a temporary name.

    Parameters
    ----------
    path : path-like
    components : list of str
    sampling, model, inference_mode : str
    batch_size : int
    split : dict
        ``train_years``, ``validation_years``, ``test_years``.
    lat, lon : numpy.ndarray, optional
    ensemble : tuple of int, optional
        ``(members, mc_passes)`` of an ensemble; then every year needs its members.
    """

    def _create(self, *, components, sampling, model, inference_mode, batch_size, split,
                lat=None, lon=None, ensemble=None):  # fmt: skip
        a = self.file.attrs
        a["components"] = list(components)
        a["sampling"] = sampling
        a["model"] = model
        a["inference_mode"] = inference_mode
        a["batch_size"] = int(batch_size)
        a["units"] = "m"
        for s in SPLITS:
            a[f"{s}_years"] = np.asarray(split[f"{s}_years"], dtype=np.int64)
        for key, value in (("lat", lat), ("lon", lon)):
            if value is not None:
                self.file.create_dataset(key, data=value)
        self.ensemble = ensemble
        if ensemble is not None:
            a["members"], a["mc_passes"] = (int(v) for v in ensemble)

    def add_year(self, year, numt, prediction, members=None):
        """A year's predictions ``(S, dim, dim, C)`` [m]; an ensemble's: ``members``
        ``(M, S, dim, dim, C)``, whose mean ``prediction`` is (None: computed here)."""
        if (members is None) != (self.ensemble is None):
            raise ValueError("members are given exactly for an ensemble")
        g = self.file.create_group(f"years/{int(year)}")
        g.attrs["numt"] = numt
        if members is not None:
            members = np.asarray(members, np.float32)
            if prediction is None:
                prediction = members.mean(axis=0, dtype=np.float64).astype(np.float32)
            g.create_dataset("members", data=members)
            g.create_dataset("spread", data=spread(members))
        g.create_dataset("prediction", data=prediction)


class Predictions(HDF5Reader):
    """Read access to ``predictions.h5`` (a ``with`` block or :meth:`close`).

    Parameters
    ----------
    path : path-like
    samples : gravsep.formats.samples.Samples, optional
        The dataset predicted: its components and sampling must be the file's.
    """

    def _open(self, samples=None):
        self.samples = samples
        a = self.file.attrs
        self.components = as_str_list(a["components"]) if "components" in a else None
        self.sampling = as_str(a["sampling"]) if "sampling" in a else None
        #: networks and passes of each (1, 1 for a single model)
        self.members = int(a.get("members", 1))
        self.mc_passes = int(a.get("mc_passes", 1))
        if samples is not None:
            self._check(samples)

    def _check(self, samples):
        if self.components is not None and self.components != samples.components:
            raise ValueError(
                f"components of {self.path} ({self.components}) differ from the dataset's "
                f"({samples.components})"
            )
        if self.sampling is not None and self.sampling != samples.sampling:
            raise ValueError(f"sampling of {self.path} differs from the dataset's")

    def prediction(self, year):
        """``(S, dim, dim, C)`` predictions of a year (h5py dataset: slicing reads)."""
        key = f"years/{int(year)}/prediction"
        if key not in self.file:
            raise KeyError(f"{self.path} has no {key}")
        return self.file[key]

    @property
    def is_ensemble(self):
        """Whether the file holds members (and a spread)."""
        return "members" in self.file.attrs

    def _year_data(self, year, name):
        key = f"years/{int(year)}/{name}"
        if key not in self.file:
            raise KeyError(f"{self.path} has no {key} (not an ensemble)")
        return self.file[key]

    def member_predictions(self, year):
        """``(M, S, dim, dim, C)`` every member's pass (h5py dataset)."""
        return self._year_data(year, "members")

    def spread(self, year):
        """``(S, dim, dim, C)`` the members' standard deviation in the sample layout."""
        return self._year_data(year, "spread")

    def member_cubes(self, year, chunk=16):
        """``(M, C, lat, lon, numt)`` every member mapped back to the windows [m]."""
        s = self._need_samples()
        data = self.member_predictions(year)
        return np.stack([read_cube(data[k], s.sampling, s.numt(year), s.g_pinv, chunk)
                         for k in range(data.shape[0])])  # fmt: skip

    def spread_cube(self, year, chunk=16):
        """``(C, lat, lon, numt)`` the spread per component, pixel and window [m]: the
        standard deviation of the members mapped back."""
        return spread(self.member_cubes(year, chunk))

    def _need_samples(self):
        if self.samples is None:
            raise ValueError(f"{self.path}: open it with its dataset to map predictions back")
        return self.samples

    def cube(self, year, chunk=16):
        """A year's predictions mapped back to its windows, ``(C, lat, lon, numt)`` [m].

        Needs the dataset (``samples`` at opening) for the sampling, windows and mixing.
        """
        s = self.samples
        if s is None:
            raise ValueError(f"{self.path}: open it with its dataset to map predictions back")
        return read_cube(self.prediction(year), s.sampling, s.numt(year), s.g_pinv, chunk)
