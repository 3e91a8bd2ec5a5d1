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

from dataclasses import dataclass, field

import h5py
import numpy as np

from gravsep.atomic import atomic_output
from gravsep.formats.hdf5 import as_str, as_str_list

#: Attributes that hold strings (False) or lists of strings (True).
_STRING_ATTRS = {"model": False, "sampling": False, "components": True, "labels": True}
#: The names of the component-error datasets.
COMPONENT_ERRORS = ("pair_rms", "pair_normalised", "subset_labels", "subset_rms",
                    "subset_normalised")  # fmt: skip


@dataclass
class Evaluation:
    """The content of an evaluation file (arrays [m] unless said otherwise).

    Attributes
    ----------
    attrs : dict
        The root attributes of the layout.
    lat, lon : numpy.ndarray
        [degrees].
    time : numpy.ndarray
        int64 [s since 1970].
    profiles : dict
        Axis (``lat``, ``lon``, ``time``) -> kind (``truth``, ``prediction``, ``error``) ->
        ``(C+1, n)``.
    maps : dict
        Kind -> ``(C, nlat, nlon)``.
    relative_rms : dict
        Method -> ``(C+1,)`` dimensionless.
    component_errors : dict
        :data:`COMPONENT_ERRORS` -> arrays (``subset_labels``: list of str).
    degree : numpy.ndarray or None
        Degrees of the degree amplitudes (global grids only).
    degree_amplitudes : dict or None
        Kind -> ``(C+1, lmax+1)``.
    """

    attrs: dict
    lat: np.ndarray
    lon: np.ndarray
    time: np.ndarray
    profiles: dict
    maps: dict
    relative_rms: dict = field(default_factory=dict)
    component_errors: dict = field(default_factory=dict)
    degree: np.ndarray | None = None
    degree_amplitudes: dict | None = None

    @property
    def labels(self):
        return list(self.attrs["labels"])

    def relative_by_label(self):
        """``{(method, label): rel_rms}`` of every method and label."""
        return {
            (method, label): float(v)
            for method, values in self.relative_rms.items()
            for label, v in zip(self.labels, values, strict=False)
        }


def write_evaluation(path, ev):
    """Write an :class:`Evaluation` atomically."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(ev.attrs)
        f["lat"], f["lon"] = np.asarray(ev.lat, np.float64), np.asarray(ev.lon, np.float64)
        f["time"] = np.asarray(ev.time, np.int64)
        for axis, kinds in ev.profiles.items():
            for kind, values in kinds.items():
                f[f"profiles/{axis}/{kind}"] = values
        for kind, values in ev.maps.items():
            f[f"maps/{kind}"] = np.asarray(values, dtype=np.float32)
        if ev.degree_amplitudes is not None:
            for kind, values in ev.degree_amplitudes.items():
                f[f"degree_amplitudes/{kind}"] = values
            f["degree_amplitudes/degree"] = ev.degree
        for method, values in ev.relative_rms.items():
            f[f"relative_rms/{method}"] = np.asarray(values, dtype=np.float64)
        for key in COMPONENT_ERRORS:
            if key in ev.component_errors:
                f[f"component_errors/{key}"] = ev.component_errors[key]


def _group(f, name):
    return {k: f[f"{name}/{k}"][()] for k in f[name]} if name in f else {}


def read_evaluation(path):
    """Read an evaluation file into an :class:`Evaluation` (string attributes decoded)."""
    with h5py.File(path, "r") as f:
        attrs = {}
        for k, v in f.attrs.items():
            if k in _STRING_ATTRS:
                v = as_str_list(v) if _STRING_ATTRS[k] else as_str(v)
            attrs[k] = v
        profiles = {a: _group(f, f"profiles/{a}") for a in f["profiles"]} if "profiles" in f else {}
        amplitudes = _group(f, "degree_amplitudes")
        degree = amplitudes.pop("degree", None)
        errors = _group(f, "component_errors")
        if "subset_labels" in errors:
            errors["subset_labels"] = as_str_list(errors["subset_labels"])
        return Evaluation(
            attrs=attrs,
            lat=f["lat"][()] if "lat" in f else None,
            lon=f["lon"][()] if "lon" in f else None,
            time=f["time"][()] if "time" in f else None,
            profiles=profiles,
            maps=_group(f, "maps"),
            relative_rms=_group(f, "relative_rms"),
            component_errors=errors,
            degree=degree,
            degree_amplitudes=amplitudes or None,
        )


def read_relative_rms(path):
    """``({(method, label): rel_rms}, {"year", "best_epoch"})`` of an evaluation file."""
    ev = read_evaluation(path)
    extra = {k: ev.attrs[k] for k in ("year", "best_epoch") if k in ev.attrs}
    return ev.relative_by_label(), extra
