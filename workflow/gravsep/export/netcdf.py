"""NetCDF-CF export of the separated fields (``separated.nc``).

CF-1.8, written with xarray (h5netcdf engine): coordinates ``time`` (window mid-epochs,
encoded as ``days since 1970-01-01``, with ``time_bnds`` the window start and end), ``lat``
[degrees_north], ``lon`` [degrees_east]; variables ``prediction_<COMP>``, ``truth_<COMP>``
(time, lat, lon) and ``input`` (the summed signal) float32 [m] of equivalent water height, for
the test years of the dataset, mapped back to the windows
(:func:`gravsep.export.fields.read_separated`).

An ensemble's file (:mod:`gravsep.ensemble`) also has ``spread_<COMP>`` (time, lat, lon)
float32 [m]: the standard deviation of the members about ``prediction_<COMP>`` (their mean),
linked to it by the CF attribute ``ancillary_variables``, and the global attribute
``ensemble_members``. Equivalent water height of a mass-change component has no CF standard
name, so neither variable carries one (the coordinates do); the spread is the members' raw
standard deviation (the calibration of ``results/calibration.csv``, factor and floor, is not
applied).
"""

import datetime as dt

import numpy as np

from gravsep.atomic import atomic_output
from gravsep.export.fields import component_long_name, window_bounds
from gravsep.formats.evaluation import read_relative_rms
from gravsep.formats.hdf5 import as_str
from gravsep.harmonics.filtering import half_width_km

#: CF time units of the NetCDF export.
TIME_UNITS = "days since 1970-01-01"  # UTC


def to_xarray(sep, model="", deltat_hours=None, evaluation_h5=None, history=None):
    """CF-1.8 :class:`xarray.Dataset` of :func:`read_separated` output.

    Times are given as numbers in :data:`TIME_UNITS` (``xarray.open_dataset`` decodes them to
    datetime64 when the file is read back).

    Parameters
    ----------
    sep : dict
        From :func:`read_separated`.
    model : str
        Model name (attributes ``title``, ``source``).
    deltat_hours : float or "month", optional
        Window length [h] for ``time_bnds``; default the spacing of the windows.
    evaluation_h5 : path-like, optional
        Evaluation file; the relative RMS errors of the first test year are added as
        attributes ``relative_rms_error`` of the prediction variables.
    history : str, optional
        Line of the ``history`` attribute; default a time-stamped note of this export.
    """
    import xarray as xr

    attrs = sep["attrs"]
    time = np.asarray(sep["time"], dtype=np.int64)
    bounds = window_bounds(time, deltat_hours)
    # encoded here (not by xarray) so that the time attributes are classic text, see below
    time_attrs = {"units": TIME_UNITS, "calendar": "standard"}
    nmax_flt = int(attrs.get("nmax_flt", 0))
    filt = (
        f"Gaussian filter of half-width {half_width_km(nmax_flt):.0f} km (nmax_flt {nmax_flt})"
        if nmax_flt
        else "no filter"
    )
    rel, ev_attrs = ({}, {}) if evaluation_h5 is None else read_relative_rms(evaluation_h5)
    data_vars = _data_vars(sep, filt, rel, ev_attrs)
    data_vars["time_bnds"] = (("time", "nv"), bounds / 86400.0, dict(time_attrs))
    ds = xr.Dataset(data_vars, coords=_coords(sep, time / 86400.0, time_attrs))
    ds.attrs = _global_attrs(sep, model, filt, nmax_flt, history)
    if "best_epoch" in ev_attrs:
        ds.attrs["best_epoch"] = int(ev_attrs["best_epoch"])
    if "members" in sep:
        ds.attrs["ensemble_members"] = len(sep["members"])
    return ds


def _field(cube, long_name, filt, extra=None):
    """A (time, lat, lon) float32 variable [m EWH] of a ``(lat, lon, t)`` cube."""
    a = {
        "long_name": long_name,
        "units": "m",
        "cell_methods": "time: mean",
        "comment": f"equivalent water height (Wahr et al. 1998), {filt}",
    }
    a.update(extra or {})
    return (("time", "lat", "lon"), np.moveaxis(cube, -1, 0).astype(np.float32), a)


def _data_vars(sep, filt, rel, ev_attrs):
    """``prediction_<COMP>``, ``truth_<COMP>`` and ``input``."""
    data_vars = {}
    for c, comp in enumerate(sep["components"]):
        name = component_long_name(comp)
        extra = {"component": comp}
        if ("unet", comp) in rel:
            extra["relative_rms_error"] = rel[("unet", comp)]
            extra["relative_rms_error_year"] = int(ev_attrs.get("year", -1))
        data_vars[f"prediction_{comp}"] = _field(
            sep["prediction"][c],
            f"predicted {name} ({comp}) mass change as equivalent water height", filt, extra,
        )  # fmt: skip
        if "spread" in sep:
            data_vars[f"prediction_{comp}"][2]["ancillary_variables"] = f"spread_{comp}"
            data_vars[f"spread_{comp}"] = _field(
                sep["spread"][c], f"ensemble standard deviation of the predicted {name} ({comp})"
                " mass change as equivalent water height", filt,
                {"component": comp, "cell_methods": "time: mean",
                 "comment": f"standard deviation (ddof=1) of {len(sep['members'])} ensemble "
                 "members' predictions about their mean"},
            )  # fmt: skip
        data_vars[f"truth_{comp}"] = _field(
            sep["truth"][c], f"true {name} ({comp}) mass change as equivalent water height",
            filt, {"component": comp},
        )  # fmt: skip
    data_vars["input"] = _field(
        sep["input"], "summed mass change of all components as equivalent water height", filt
    )
    return data_vars


def _coords(sep, days, time_attrs):
    """CF coordinates ``time`` [days since 1970], ``lat``, ``lon`` [degrees]."""
    time = {"standard_name": "time", "long_name": "mid-epoch of the averaging window",
            "axis": "T", "bounds": "time_bnds", **time_attrs}  # fmt: skip
    lat = {"standard_name": "latitude", "long_name": "latitude", "units": "degrees_north",
           "axis": "Y"}  # fmt: skip
    lon = {"standard_name": "longitude", "long_name": "longitude", "units": "degrees_east",
           "axis": "X"}  # fmt: skip
    return {"time": ("time", days, time), "lat": ("lat", sep["lat"], lat),
            "lon": ("lon", sep["lon"], lon)}  # fmt: skip


def _global_attrs(sep, model, filt, nmax_flt, history):
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    years = ", ".join(str(y) for y in sep["years"])
    return {
        "Conventions": "CF-1.8",
        "title": f"Separated mass-change components of model {model}, year(s) {years}",
        "institution": "gravsep workflow",
        "source": (
            f"gravsep U-Net separation model {model} applied to the summed signal of the "
            "ESA Earth System Model components"
        ),
        "history": history or f"{now}: created by gravsep.export",
        "references": "Wahr et al. (1998), J. Geophys. Res. 103(B12), 30205-30229",
        "comment": (
            "prediction_<COMP>: the model's separated component; truth_<COMP>: the target; "
            f"input: their sum given to the model. Grids are Driscoll-Healy, {filt}."
        ),
        "date_created": now,
        "components": " ".join(sep["components"]),
        "sampling": as_str(sep["attrs"].get("sampling", "")),
        "nmax": int(sep["attrs"].get("nmax", -1)),
        "nmax_flt": nmax_flt,
        "years": years,
    }


def _classic_attrs(attrs):
    """Text attributes as char arrays (not HDF5 variable-length strings) and int as int32,
    so that netCDF-C tools and CF checkers read them as classic netCDF attributes."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, str):
            value = np.bytes_(value.encode("utf-8"))
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            value = np.int32(value)
        out[key] = value
    return out


def write_netcdf(ds, path):
    """Write a dataset of :func:`to_xarray` atomically (h5netcdf engine, deflate level 4)."""
    ds = ds.copy()
    ds.attrs = _classic_attrs(ds.attrs)
    for name in ds.variables:
        ds[name].attrs = _classic_attrs(ds[name].attrs)
    encoding = {
        name: {"dtype": "float32", "zlib": True, "complevel": 4, "_FillValue": None}
        for name in ds.data_vars
        if name != "time_bnds"
    }
    for name in ("time", "time_bnds", "lat", "lon"):
        encoding[name] = {"_FillValue": None}
    with atomic_output(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
