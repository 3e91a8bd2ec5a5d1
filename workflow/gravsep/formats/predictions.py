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
"""

import numpy as np

from gravsep.dataset.sampling import read_cube
from gravsep.formats.hdf5 import HDF5Reader, HDF5Writer, as_str, as_str_list

SPLITS = ("train", "validation", "test")


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
    """

    def _create(self, *, components, sampling, model, inference_mode, batch_size, split,
                lat=None, lon=None):  # fmt: skip
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

    def add_year(self, year, numt, prediction):
        """A year's predictions ``(S, dim, dim, C)`` [m]."""
        g = self.file.create_group(f"years/{int(year)}")
        g.attrs["numt"] = numt
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

    def cube(self, year, chunk=16):
        """A year's predictions mapped back to its windows, ``(C, lat, lon, numt)`` [m].

        Needs the dataset (``samples`` at opening) for the sampling, windows and mixing.
        """
        s = self.samples
        if s is None:
            raise ValueError(f"{self.path}: open it with its dataset to map predictions back")
        return read_cube(self.prediction(year), s.sampling, s.numt(year), s.g_pinv, chunk)
