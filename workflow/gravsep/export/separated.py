"""Exports of the separated fields: NetCDF-CF grids and ICGEM coefficient files.

Outputs
-------
NetCDF (``separated.nc``), CF-1.8, written with xarray (h5netcdf engine)
    coordinates ``time`` (window mid-epochs, encoded as ``days since 1970-01-01``, with
    ``time_bnds`` the window start and end), ``lat`` [degrees_north], ``lon`` [degrees_east];
    variables ``prediction_<COMP>``, ``truth_<COMP>`` (time, lat, lon) and ``input`` (the
    summed signal) float32 [m] of equivalent water height, for the test years of the dataset,
    mapped back to the windows as in :func:`gravsep.evaluation.evaluate.read_cube`.
ICGEM archive (``separated_icgem.tar.gz``)
    ``<COMP>/mtmshc_<COMP>_<YYYYMMDD_HH>_<YYYYMMDD_HH>.180`` per component and window of the
    test years: SH analysis (:func:`~gravsep.harmonics.grids.analyze`) of the predicted EWH
    grid to the dataset's ``nmax``, converted back to dimensionless Stokes coefficients
    (:func:`~gravsep.harmonics.units.ewh_to_stokes`). The Gaussian filter of the dataset is not
    undone, so the coefficients are those of the smoothed field (each file's header says so), and
    degrees above what the grid resolves are zero. ``README.txt`` describes the archive.
    Only global grids can be analysed; for a regional extent the archive holds the README
    alone.
"""

import datetime as dt
import gzip
import io
import logging
import os
import tarfile
import time as _time
from pathlib import Path

import numpy as np

from gravsep.atomic import atomic_output
from gravsep.constants import LETTERS
from gravsep.evaluation.evaluate import is_global
from gravsep.formats.evaluation import read_relative_rms
from gravsep.formats.hdf5 import as_str
from gravsep.formats.icgem import format_icgem
from gravsep.formats.predictions import Predictions
from gravsep.formats.samples import Samples
from gravsep.harmonics.filtering import half_width_km
from gravsep.harmonics.grids import analyze
from gravsep.harmonics.units import ewh_to_stokes
from gravsep.ingest.preprocess import window_name

log = logging.getLogger(__name__)

#: CF time units of the NetCDF export.
TIME_UNITS = "days since 1970-01-01"  # UTC


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

    Windows are ``deltat_hours`` long and centred on their mid-epochs (method note §3.9).

    Returns
    -------
    numpy.ndarray
        ``(numt, 2)`` int64.
    """
    mid = np.asarray(mid_seconds, dtype=np.int64)
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


def _relative_rms(evaluation_h5):
    """``{(method, label): rel_rms}`` and attributes of an evaluation file, if given."""
    return ({}, {}) if evaluation_h5 is None else read_relative_rms(evaluation_h5)


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
    deltat_hours : float, optional
        Window length [h] for ``time_bnds``; default the spacing of the windows.
    evaluation_h5 : path-like, optional
        Evaluation file; the relative RMS errors of the first test year are added as
        attributes ``relative_rms_error`` of the prediction variables.
    history : str, optional
        Line of the ``history`` attribute; default a time-stamped note of this export.
    """
    import xarray as xr

    attrs = sep["attrs"]
    comps = sep["components"]
    time = np.asarray(sep["time"], dtype=np.int64)
    bounds = window_bounds(time, deltat_hours)
    # encoded here (not by xarray) so that the time attributes are classic text, see below
    days = time / 86400.0
    bnds_days = bounds / 86400.0
    time_attrs = {"units": TIME_UNITS, "calendar": "standard"}
    nmax_flt = int(attrs.get("nmax_flt", 0))
    filt = (
        f"Gaussian filter of half-width {half_width_km(nmax_flt):.0f} km (nmax_flt {nmax_flt})"
        if nmax_flt
        else "no filter"
    )
    rel, ev_attrs = _relative_rms(evaluation_h5)

    def field(cube, long_name, extra=None):
        a = {
            "long_name": long_name,
            "units": "m",
            "cell_methods": "time: mean",
            "comment": f"equivalent water height (Wahr et al. 1998), {filt}",
        }
        a.update(extra or {})
        return (("time", "lat", "lon"), np.moveaxis(cube, -1, 0).astype(np.float32), a)

    data_vars = {}
    for c, comp in enumerate(comps):
        name = component_long_name(comp)
        extra = {"component": comp}
        if ("unet", comp) in rel:
            extra["relative_rms_error"] = rel[("unet", comp)]
            extra["relative_rms_error_year"] = int(ev_attrs.get("year", -1))
        data_vars[f"prediction_{comp}"] = field(
            sep["prediction"][c],
            f"predicted {name} ({comp}) mass change as equivalent water height",
            extra,
        )
        data_vars[f"truth_{comp}"] = field(
            sep["truth"][c],
            f"true {name} ({comp}) mass change as equivalent water height",
            {"component": comp},
        )
    data_vars["input"] = field(
        sep["input"], "summed mass change of all components as equivalent water height"
    )
    data_vars["time_bnds"] = (("time", "nv"), bnds_days, dict(time_attrs))
    coords = {
        "time": (
            "time",
            days,
            {
                "standard_name": "time",
                "long_name": "mid-epoch of the averaging window",
                "axis": "T",
                "bounds": "time_bnds",
                **time_attrs,
            },
        ),
        "lat": (
            "lat",
            sep["lat"],
            {
                "standard_name": "latitude",
                "long_name": "latitude",
                "units": "degrees_north",
                "axis": "Y",
            },
        ),
        "lon": (
            "lon",
            sep["lon"],
            {
                "standard_name": "longitude",
                "long_name": "longitude",
                "units": "degrees_east",
                "axis": "X",
            },
        ),
    }
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    years = ", ".join(str(y) for y in sep["years"])
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs = {
        "Conventions": "CF-1.8",
        "title": f"Separated mass-change components of model {model}, year(s) {years}",
        "institution": "gravsep workflow",
        "source": (
            f"gravsep U-Net separation model {model} applied to the summed signal of the "
            "ESA Earth System Model components"
        ),
        "history": history or f"{now}: created by gravsep.export.separated",
        "references": "Wahr et al. (1998), J. Geophys. Res. 103(B12), 30205-30229",
        "comment": (
            "prediction_<COMP>: the model's separated component; truth_<COMP>: the target; "
            f"input: their sum given to the model. Grids are Driscoll-Healy, {filt}."
        ),
        "date_created": now,
        "components": " ".join(comps),
        "sampling": as_str(attrs.get("sampling", "")),
        "nmax": int(attrs.get("nmax", -1)),
        "nmax_flt": nmax_flt,
        "years": years,
    }
    if "best_epoch" in ev_attrs:
        ds.attrs["best_epoch"] = int(ev_attrs["best_epoch"])
    return ds


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


def window_coefficients(grid, nmax):
    """Stokes coefficients ``(2, nmax+1, nmax+1)`` of an EWH grid ``(dim, dim)`` [m].

    SH analysis of the DH grid to degree ``nmax``, then EWH to Stokes (the filter the grid
    was made with stays in).
    """
    return ewh_to_stokes(analyze(grid, lmax=nmax))


def icgem_members(sep, model="", deltat_hours=None):
    """``(archive name, text)`` of every component and window of :func:`read_separated`.

    Yields nothing for a regional grid (SH analysis needs the whole sphere).
    """
    attrs = sep["attrs"]
    lat, lon = sep["lat"], sep["lon"]
    if not is_global(lat, lon):
        return
    dim = len(lat)
    nmax = int(attrs.get("nmax", dim // 2 - 1))
    nmax = min(nmax, dim // 2 - 1)
    nmax_flt = int(attrs.get("nmax_flt", 0))
    bounds = window_bounds(sep["time"], deltat_hours)
    filt = (
        f"Gaussian filter of half-width {half_width_km(nmax_flt):.0f} km (nmax_flt "
        f"{nmax_flt}) is NOT undone: these are the coefficients of the smoothed field"
        if nmax_flt
        else "no filter was applied to the grids"
    )
    for c, comp in enumerate(sep["components"]):
        for k, (start, end) in enumerate(bounds):
            t0, t1 = (np.datetime64(int(v), "s") for v in (start, end))
            name = window_name(comp, t0, t1)
            cs = window_coefficients(sep["prediction"][c, :, :, k], nmax)
            comments = [
                f"{component_long_name(comp)} ({comp}) separated by gravsep model {model}",
                f"window {t0} to {t1} (mid-epoch {np.datetime64(int(sep['time'][k]), 's')})",
                f"SH analysis of the predicted EWH grid (Driscoll-Healy {dim} x {dim}) to "
                f"degree {nmax}, converted to Stokes coefficients with load Love numbers",
                "(Wahr et al. 1998, rho_ave 5517 kg/m^3, rho_w 1000 kg/m^3)",
                filt,
            ]
            text = format_icgem(cs, modelname=name[: -len(".180")], comments=comments)
            yield f"{comp}/{name}", text


def _readme(sep, model, n_files):
    glob = is_global(sep["lat"], sep["lon"])
    lines = [
        f"Separated spherical-harmonic coefficients of model {model}",
        f"years: {', '.join(str(y) for y in sep['years'])}",
        f"components: {' '.join(sep['components'])}",
        "",
    ]
    if glob:
        lines += [
            "One ICGEM file per component and window, <COMP>/mtmshc_<COMP>_<start>_<end>.180",
            "(start and end of the averaging window, YYYYMMDD_HH, UTC): fully normalised,",
            "dimensionless Stokes coefficients from the SH analysis of the predicted EWH grid.",
            "The Gaussian filter applied when the grids were made is NOT undone.",
            f"{n_files} files.",
        ]
    else:
        lines += [
            "The grids are regional: SH coefficients need the whole sphere, so none are",
            "given here; the separated fields are in separated.nc.",
        ]
    return "\n".join(lines) + "\n"


def write_icgem_archive(sep, path, model="", deltat_hours=None):
    """Write the ICGEM files of :func:`icgem_members` and a README as one ``.tar.gz``.

    Written atomically. Member times are ``SOURCE_DATE_EPOCH`` if set, else now.

    Returns
    -------
    list of str
        Member names of the coefficient files.
    """
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", _time.time()))
    names = []

    def add(tar, name, text):
        data = text.encode("ascii")
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = mtime
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))

    def write(tmp):
        with (
            open(tmp, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=mtime) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name, text in icgem_members(sep, model, deltat_hours):
                add(tar, name, text)
                names.append(name)
            add(tar, "README.txt", _readme(sep, model, len(names)))

    with atomic_output(path) as tmp:
        write(tmp)
    if not names:
        log.warning("regional grid: no SH coefficients exported to %s", path)
    return names


def export(
    dataset_h5,
    predictions_h5,
    out_nc,
    out_tar,
    model="",
    evaluation_h5=None,
    deltat_hours=None,
    years=None,
):
    """NetCDF-CF grids and ICGEM archive of a model's separated test years.

    Parameters
    ----------
    dataset_h5, predictions_h5 : path-like
        Layouts in :mod:`gravsep.evaluation.evaluate`.
    out_nc, out_tar : path-like
        NetCDF file and ``.tar.gz`` of ICGEM files (see the module docstring).
    model : str
        Model name.
    evaluation_h5 : path-like, optional
        Evaluation file, for the relative errors recorded in the NetCDF attributes.
    deltat_hours : float, optional
        Window length [h]; default the spacing of the windows.
    years : iterable of int, optional
        Default the dataset's test years.

    Returns
    -------
    dict
        ``netcdf`` path, ``icgem`` member names, ``windows`` count.
    """
    sep = read_separated(dataset_h5, predictions_h5, years)
    history = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}: gravsep.export.separated of "
        f"{Path(predictions_h5).name} (model {model}) and {Path(dataset_h5).name}"
    )
    ds = to_xarray(sep, model, deltat_hours, evaluation_h5, history)
    write_netcdf(ds, out_nc)
    log.info("wrote %s (%d windows)", out_nc, len(sep["time"]))
    names = write_icgem_archive(sep, out_tar, model, deltat_hours)
    log.info("wrote %s (%d coefficient files)", out_tar, len(names))
    return {"netcdf": str(out_nc), "icgem": names, "windows": len(sep["time"])}
