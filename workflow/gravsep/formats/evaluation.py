"""The evaluation file ``evaluation.h5``: the data behind a model's figures.

Written by :func:`gravsep.evaluation.evaluate.evaluate` for the first test year
(:func:`write_evaluation`); read by the figures and the NetCDF export
(:class:`EvaluationFile`).

Layout
------
attributes
    ``components``, ``labels`` (components + ``"sum"``), ``model``, ``year``, ``sampling``,
    ``epoch_index`` (0-based window of the maps and degree amplitudes), ``epoch_time``
    [s since 1970], ``global`` (bool), ``best_epoch`` (1-based, -1 if unknown).
``/lat`` (nlat,), ``/lon`` (nlon,) [degrees]; ``/time`` (numt,) int64 [s since 1970]
``/profiles/{lat,lon,time}/{truth,prediction,error}`` (C+1, n) [m]
    RMS along each axis (:mod:`gravsep.evaluation.metrics`), rows in ``labels`` order (last
    row: sum of components).
``/relative_rms/<method>`` (C+1,) dimensionless
``/degree_amplitudes/{truth,prediction,error}`` (C+1, lmax+1) [m], ``/degree_amplitudes/degree``
    (lmax+1,): only for global grids.
``/maps/{truth,prediction,error}`` (C, nlat, nlon) float32 [m] at ``epoch_index``
``/component_errors/pair_rms`` (C, C) [m] (diagonal: single components),
``/component_errors/pair_normalised`` (C, C), ``/component_errors/subset_labels`` (K,),
``subset_rms`` (K,) [m], ``subset_normalised`` (K,): singles, pairs and the sum of all.
"""

from pathlib import Path

import h5py

from gravsep.atomic import atomic_output
from gravsep.formats.hdf5 import as_str, as_str_list

#: Attributes that hold strings or lists of strings.
_STRING_ATTRS = {"model": False, "sampling": False, "components": True, "labels": True}


def write_evaluation(path, attrs, arrays):
    """Write an evaluation file atomically.

    Parameters
    ----------
    attrs : dict
        The root attributes of the layout.
    arrays : dict
        HDF5 path (``"profiles/lat/truth"``) -> array, for the datasets of the layout.
    """
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(attrs)
        for key, value in arrays.items():
            f[key] = value


class EvaluationFile:
    """Read access to an evaluation file: ``attrs`` and datasets by path, as NumPy arrays.

    ``"maps/truth" in ev`` and ``ev["maps/truth"]`` work as on an h5py file; string
    attributes are decoded.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.file = h5py.File(self.path, "r")
        a = self.file.attrs
        self.attrs = {}
        for k in a:
            if k in _STRING_ATTRS:
                self.attrs[k] = as_str_list(a[k]) if _STRING_ATTRS[k] else as_str(a[k])
            else:
                self.attrs[k] = a[k]

    def __contains__(self, key):
        return key in self.file

    def __getitem__(self, key):
        value = self.file[key][()]
        if key.endswith("subset_labels"):
            return as_str_list(value)
        return value

    def keys(self, group):
        """Names under a group (e.g. the methods under ``relative_rms``); empty if absent."""
        return list(self.file[group]) if group in self.file else []

    def relative_rms(self):
        """``{(method, label): rel_rms}`` of every method and label."""
        labels = self.attrs["labels"]
        out = {}
        for method in self.keys("relative_rms"):
            values = self[f"relative_rms/{method}"]
            for label, v in zip(labels, values, strict=False):
                out[(method, label)] = float(v)
        return out

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False


def read_relative_rms(path):
    """``({(method, label): rel_rms}, {"year", "best_epoch"})`` of an evaluation file."""
    with EvaluationFile(path) as ev:
        extra = {k: ev.attrs[k] for k in ("year", "best_epoch") if k in ev.attrs}
        return ev.relative_rms(), extra
