"""The separated fields of a model, mapped back to the windows, with their time bounds.

What the exports share: :func:`read_separated` reads the dataset and the predictions through
their owners (:mod:`gravsep.formats.samples`, :mod:`gravsep.formats.predictions`) and maps
them back to lat-lon-t; :func:`window_bounds` gives each window's start and end.
"""

import numpy as np

from gravsep import timestep
from gravsep.constants import LETTERS
from gravsep.formats.predictions import Predictions
from gravsep.formats.samples import Samples


def component_long_name(comp):
    """``"AO"`` -> ``"atmosphere + ocean"`` (letters of :data:`gravsep.constants.LETTERS`)."""
    return " + ".join(LETTERS.get(letter, letter) for letter in comp)


def _window_hours(mid_seconds, deltat_hours=None):
    """Window length [h]: given, else the spacing of the window mid-epochs."""
    if deltat_hours is not None:
        return float(deltat_hours)
    if len(mid_seconds) < 2:
        raise ValueError("one window only: the window length (deltat_hours) must be given")
    return float(np.median(np.diff(mid_seconds))) / 3600.0


def window_bounds(mid_seconds, deltat_hours=None):
    """Window starts and ends [s since 1970] of window mid-epochs [s since 1970].

    Windows are ``deltat_hours`` long and centred on their mid-epochs (method note §3.9);
    with ``deltat_hours`` ``"month"`` they are the calendar months holding the mid-epochs.

    Returns
    -------
    numpy.ndarray
        ``(numt, 2)`` int64.
    """
    mid = np.asarray(mid_seconds, dtype=np.int64)
    if timestep.is_month(deltat_hours):
        return timestep.month_bounds(mid)
    half = int(round(_window_hours(mid, deltat_hours) * 1800.0))
    return np.stack([mid - half, mid + half], axis=-1)


def read_separated(dataset_h5, predictions_h5, years=None):
    """Predicted, true and summed fields of some years, mapped back to the windows.

    Parameters
    ----------
    dataset_h5, predictions_h5 : path-like
        Layouts in :mod:`gravsep.evaluation.evaluate`.
    years : iterable of int, optional
        Default the dataset's test years.

    Returns
    -------
    dict
        ``components``, ``attrs`` (the dataset's root attributes), ``lat``, ``lon``
        [degrees], ``time`` (numt,) int64 [s since 1970], ``prediction`` and ``truth``
        (C, lat, lon, numt) float32 [m], ``input`` (lat, lon, numt) float32 [m], all years
        concatenated along time; ``years`` the years read.
    """
    with Samples(dataset_h5) as s, Predictions(predictions_h5, s) as fp:
        years = s.split_years("test") if years is None else [int(y) for y in years]
        if not years:
            raise ValueError(f"{dataset_h5} has no test years")
        parts = {"prediction": [], "truth": [], "input": [], "time": []}
        for year in years:
            fp.prediction(year)  # refuse a missing year before the work
            parts["time"].append(s.time(year)[: s.numt(year)])
            parts["prediction"].append(fp.cube(year))
            parts["truth"].append(s.cube(year, "target"))
            parts["input"].append(s.cube(year, "input"))
        out = {
            "components": s.components,
            "attrs": dict(s.attrs),
            "years": years,
            "lat": s.lat.astype(np.float64),
            "lon": s.lon.astype(np.float64),
        }
    for key, values in parts.items():
        out[key] = np.concatenate(values, axis=-1) if len(values) > 1 else values[0]
    return out
