"""Rule ``apply_export``: the separated Level-2 fields as products, and their check.

From the corrected series (:mod:`gravsep.formats.series`), the apply samples and the model's
predictions (:mod:`gravsep.formats.samples`, :mod:`gravsep.formats.predictions`):

``separated.nc``
    NetCDF-CF 1.8 (:func:`gravsep.export.netcdf.write_netcdf`): ``time`` (the months'
    mid-epochs, ``time_bnds`` their data spans), ``lat``, ``lon``; ``input`` (the corrected
    input, filtered, EWH), ``prediction_<COMP>``, ``residual`` (input minus the sum of the
    components), ``truth_<COMP>`` where the truth is known, and ``spread_<COMP>`` (the
    ensemble spread) where the model is an ensemble: :func:`ensemble` is the hook, and a
    single model has no spread variable. float32 [m EWH].
``separated_icgem.tar.gz``
    Per component and month ``<COMP>/<name>_<COMP>_<YYYY-MM>.gfc``: SH analysis of the
    separated grid, back to Stokes coefficients (the filter is not undone), global grids only.
``regional_means.csv``
    Per region and month: ``region, month, start, end, input, <COMP>..., sum,
    residual[, truth_<COMP>...]`` [m EWH] (:mod:`gravsep.level2.regions`).
``metrics.csv``
    Where the truth is known: ``model, method, split (apply), year, component, rel_rms`` of
    the network and the baselines (:mod:`gravsep.evaluation.baselines`, statistics of the
    model's training years), as the evaluation's rows; else the header alone.
``summary.html``
    The report: inputs, corrections month by month, dropped months, the mean, the degree-1
    frames, the residual of the sum, and the apply-versus-truth errors.
"""

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from gravsep.dataset.build import component_grids
from gravsep.evaluation.baselines import BASELINES, training_statistics
from gravsep.evaluation.evaluate import CSV_COLUMNS, NETWORK, method_rows
from gravsep.evaluation.metrics import relative_rms
from gravsep.export.fields import component_long_name
from gravsep.export.icgem import window_coefficients
from gravsep.export.netcdf import TIME_UNITS, write_netcdf
from gravsep.formats.archive import write_tar_gz
from gravsep.formats.icgem import format_icgem
from gravsep.formats.predictions import Predictions
from gravsep.formats.samples import Samples
from gravsep.formats.series import Series
from gravsep.harmonics.filtering import half_width_km
from gravsep.harmonics.grids import is_global
from gravsep.level2.regions import cell_counts, region_masks, regional_means

SPLIT = "apply"


def _iso(seconds, unit="s"):
    """Seconds since 1970 as ISO text (``unit`` ``M``: ``YYYY-MM``)."""
    return str(np.datetime64(int(seconds), "s").astype(f"datetime64[{unit}]"))


def ensemble(cubes):
    """Mean and spread of the members' predictions ``[(C, lat, lon, T), ...]``.

    The hook for ensembles (a file's members, :mod:`gravsep.formats.predictions`, or several
    files): one member gives itself and no spread.
    """
    if len(cubes) == 1:
        return cubes[0], None
    stack = np.stack(cubes)
    return stack.mean(axis=0), stack.std(axis=0, ddof=1)


def load_fields(series_h5, samples_h5, predictions):
    """The separated months and what they are compared with, all on the model's grid.

    Returns
    -------
    dict
        ``components``, ``lat``, ``lon``, ``attrs`` (the samples'), ``start``, ``end``,
        ``mid`` (T,) [s since 1970], ``input`` (lat, lon, T) the corrected months,
        ``seen`` (lat, lon, T) the input as the network's samples hold it (mapped back),
        ``prediction`` and ``spread`` (C, lat, lon, T) (spread None for one model), ``truth``
        (C, lat, lon, T) or None, ``year`` (T,) the calendar year of each month.
    """
    with Series(series_h5) as series, Samples(samples_h5) as s:
        a = s.attrs
        grids = component_grids(series.cs, int(a["nmax_flt"]), int(a["dim_global"]),
                                str(a["unit"]))  # fmt: skip
        r, c = int(a["row0"]), int(a["col0"])
        cut = grids[:, r : r + s.dim, c : c + s.dim]
        members = []
        for path in predictions:
            with Predictions(path, s) as p:
                if p.is_ensemble:  # every member's pass: (M, C, lat, lon, T)
                    cubes = np.concatenate([p.member_cubes(y) for y in s.years], axis=-1)
                    members += list(cubes)
                else:
                    members.append(np.concatenate([p.cube(y) for y in s.years], axis=-1))
        pred, spread = ensemble(members)
        seen = np.concatenate([s.cube(y, "input") for y in s.years], axis=-1)
        truth = None
        if s.has_targets:
            truth = np.concatenate([s.cube(y, "target") for y in s.years], axis=-1)
        year = np.concatenate([np.full(s.numt(y), y) for y in s.years])
        return {
            "components": s.components, "lat": s.lat, "lon": s.lon, "attrs": dict(a),
            "start": series.start, "end": series.end, "mid": series.mid,
            "input": np.moveaxis(cut, 0, -1), "seen": seen, "prediction": pred,
            "spread": spread, "members": len(members), "truth": truth, "year": year,
            "sources": series.sources,
        }  # fmt: skip


def residuals(f):
    """Relative RMS of the sum's residuals: ``constraint`` (input the network saw minus the
    sum of the components), ``time_round_trip`` (that input minus the corrected months) and
    ``total`` (corrected months minus the sum)."""
    total = f["prediction"].sum(axis=0)
    return {
        "constraint": float(relative_rms(total, f["seen"], f["lat"])),
        "time_round_trip": float(relative_rms(f["seen"], f["input"], f["lat"])),
        "total": float(relative_rms(total, f["input"], f["lat"])),
    }


def _var(cube, long_name, comment, extra=None):
    attrs = {"long_name": long_name, "units": "m", "cell_methods": "time: mean",
             "comment": comment, **(extra or {})}  # fmt: skip
    return (("time", "lat", "lon"), np.moveaxis(cube, -1, 0).astype(np.float32), attrs)


def to_xarray(f, name, model, report, res):
    """CF-1.8 :class:`xarray.Dataset` of :func:`load_fields` (module docstring)."""
    import xarray as xr

    nmax_flt = int(f["attrs"].get("nmax_flt", 0))
    filt = f"Gaussian filter of half-width {half_width_km(nmax_flt):.0f} km" if nmax_flt else (
        "no filter")  # fmt: skip
    comment = f"equivalent water height (Wahr et al. 1998), {filt}"
    v = {"input": _var(f["input"], "corrected Level-2 input as equivalent water height", comment),
         "residual": _var(f["input"] - f["prediction"].sum(axis=0),
                          "input minus the sum of the separated components", comment)}  # fmt: skip
    for k, comp in enumerate(f["components"]):
        long = component_long_name(comp)
        v[f"prediction_{comp}"] = _var(f["prediction"][k], f"separated {long} ({comp})", comment,
                                       {"component": comp})  # fmt: skip
        if f["spread"] is not None:
            v[f"spread_{comp}"] = _var(f["spread"][k], f"ensemble spread of {comp}", comment)
        if f["truth"] is not None:
            v[f"truth_{comp}"] = _var(f["truth"][k], f"true {long} ({comp})", comment)
    t_attrs = {"units": TIME_UNITS, "calendar": "standard"}
    v["time_bnds"] = (("time", "nv"), np.stack([f["start"], f["end"]], -1) / 86400.0, t_attrs)
    coords = {
        "time": ("time", f["mid"] / 86400.0, {"standard_name": "time", "axis": "T",
                 "long_name": "mid-epoch of the month's data span", "bounds": "time_bnds",
                 **t_attrs}),
        "lat": ("lat", f["lat"], {"standard_name": "latitude", "units": "degrees_north",
                                  "axis": "Y"}),
        "lon": ("lon", f["lon"], {"standard_name": "longitude", "units": "degrees_east",
                                  "axis": "X"}),
    }  # fmt: skip
    ds = xr.Dataset(v, coords=coords)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ds.attrs = {
        "Conventions": "CF-1.8",
        "title": f"Level-2 fields separated by gravsep model {model}",
        "institution": "gravsep workflow",
        "source": f"apply {name}: {len(f['mid'])} Level-2 fields, time step "
        f"{report['processing']['deltat']}",
        "history": f"{now}: gravsep apply_export",
        "components": " ".join(f["components"]),
        "ensemble_members": int(f["members"]),
        "corrections": json.dumps(report["frames"]),
        "residual_relative_rms": res["total"],
        "date_created": now,
    }
    return ds


def icgem_members(f, name, model):
    """``(member, bytes)`` of the per-month ICGEM files (nothing for a regional grid)."""
    if not is_global(f["lat"], f["lon"]):
        return
    nmax = min(int(f["attrs"]["nmax"]), len(f["lat"]) // 2 - 1)
    for k, comp in enumerate(f["components"]):
        for t, mid in enumerate(f["mid"]):
            month = _iso(mid, "M")
            cs = window_coefficients(f["prediction"][k, :, :, t], nmax)
            span = f"{_iso(f['start'][t])} .. {_iso(f['end'][t])}"
            text = format_icgem(cs, modelname=f"{name}_{comp}_{month}", comments=[
                f"{component_long_name(comp)} ({comp}) separated by gravsep model {model}",
                f"data span {span}; the Gaussian filter of the grids is NOT undone"])  # fmt: skip
            yield f"{comp}/{name}_{comp}_{month}.gfc", text.encode("ascii")


def regional_table(f, masks):
    """Rows of ``regional_means.csv`` (module docstring)."""
    series = {"input": f["input"]}
    series |= {c: f["prediction"][k] for k, c in enumerate(f["components"])}
    series["sum"] = f["prediction"].sum(axis=0)
    series["residual"] = f["input"] - series["sum"]
    if f["truth"] is not None:
        series |= {f"truth_{c}": f["truth"][k] for k, c in enumerate(f["components"])}
    rows = []
    for region, mask in masks.items():
        means = {k: regional_means(v, mask, f["lat"]) for k, v in series.items()}
        for t, mid in enumerate(f["mid"]):
            rows.append({
                "region": region, "month": _iso(mid, "M"), "start": _iso(f["start"][t]),
                "end": _iso(f["end"][t]), **{k: float(v[t]) for k, v in means.items()},
            })  # fmt: skip
    return pd.DataFrame(rows)


def apply_metrics(f, model, model_dataset, input_noise="none"):
    """Apply-versus-truth rows (split ``apply``) of the network and the baselines.

    ``input_noise`` names the noise of the files (the demonstration's noise id).
    """
    if f["truth"] is None:
        return pd.DataFrame(columns=CSV_COLUMNS)
    stats = training_statistics(model_dataset, eofs="pca" in BASELINES,
                                regression="regression" in BASELINES)  # fmt: skip
    rows = []
    for year in np.unique(f["year"]):
        sel = f["year"] == year
        truth, seen = f["truth"][..., sel], f["seen"][..., sel]
        for method in [NETWORK, *BASELINES]:
            p = f["prediction"][..., sel] if method == NETWORK else BASELINES[method](seen, stats)
            rows += method_rows(model, method, SPLIT, int(year), f["components"], p, truth,
                                f["lat"], input_noise=input_noise)  # fmt: skip
    return pd.DataFrame(rows, columns=CSV_COLUMNS)


def export_apply(series_h5, samples_h5, predictions, report_yaml, model_dataset, out, *,
                 name, model, regions, land_shapefile=None, input_noise="none"):  # fmt: skip
    """Write the products of one apply run (module docstring).

    Parameters
    ----------
    series_h5, samples_h5 : path-like
        ``series.h5`` and ``samples.h5`` of rule ``apply_prepare``.
    predictions : list of path-like
        The model's ``predictions.h5`` (one; several for an ensemble).
    report_yaml : path-like
        ``corrections.yaml`` of rule ``apply_prepare``.
    model_dataset : path-like
        The model's training ``samples.h5`` (statistics of the baselines).
    out : dict
        ``netcdf``, ``icgem``, ``regions``, ``metrics``, ``summary`` paths.
    name, model : str
    regions : dict
        ``apply.<name>.regions``.
    land_shapefile : path-like, optional
        Natural Earth land polygons.
    input_noise : str
        Column ``input_noise`` of the apply-versus-truth rows: the noise id of the files where
        it is known (the demonstration), else ``unknown``.

    Returns
    -------
    dict
        ``residual`` (relative RMS values), ``metrics`` (DataFrame), ``regions`` (cells).
    """
    import yaml

    from gravsep.atomic import write_csv, write_text
    from gravsep.level2.summary import summary_html

    report = yaml.safe_load(Path(report_yaml).read_text())
    f = load_fields(series_h5, samples_h5, list(predictions))
    res = residuals(f)
    write_netcdf(to_xarray(f, name, model, report, res), out["netcdf"])
    year = int(str(np.datetime64(int(f["start"][0]), "s"))[:4])
    mtime = int(dt.datetime(year, 1, 1, tzinfo=dt.UTC).timestamp())
    write_tar_gz(out["icgem"], icgem_members(f, name, model), mtime)
    masks = region_masks(f["lat"], f["lon"], regions, land_shapefile)
    table = regional_table(f, masks)
    write_csv(table, out["regions"], index=False, float_format="%.6g")
    metrics = apply_metrics(f, model, model_dataset, input_noise)
    write_csv(metrics, out["metrics"], index=False, float_format="%.6g")
    cells = cell_counts(masks)
    write_text(out["summary"], summary_html(name, model, report, res, metrics, cells))
    return {"residual": res, "metrics": metrics, "regions": cells}
