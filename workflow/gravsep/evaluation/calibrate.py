"""Calibration of an ensemble's spread (rule ``calibration``) and the members' own errors.

Reads the dataset (:mod:`gravsep.formats.samples`) and an ensemble's predictions
(:mod:`gravsep.formats.predictions`: mean, members), maps them back to the windows and, per
split (``validation``, ``test``: all years of the split together) and component, scores the
Gaussian ``N(mean, spread)`` against the truth (:mod:`gravsep.evaluation.calibration`).

Calibration (output, CSV)
    columns :data:`CSV_COLUMNS`, one row per split and component. ``scale`` and ``floor``
    [m] are fitted on the validation years (:func:`gravsep.evaluation.calibration.fit_spread`;
    ``floor`` 0 with ``floor`` off, then ``scale`` is ``RMS error / RMS spread``; 1 and 0 with
    ``variance_scaling`` off). The validation rows score the raw spread (what the fit is made
    on), the test rows the calibrated one, ``sqrt((scale spread)^2 + floor^2)``.
Members (output, CSV)
    columns ``model, member, split, component, rel_rms``: the relative RMS error
    (:func:`gravsep.evaluation.metrics.relative_rms`, all years of the split together) of each
    member (``m1``, ``m2``, ...; with MC dropout each pass ``m<k>.p<j>`` counts as a member)
    and of their mean (``mean``, the ensemble's prediction).

The figures (:mod:`gravsep.evaluation.calibration_figures`) are drawn from the same arrays:
maps of the calibrated spread beside the error of the mean in the first test year, and the
reliability diagram of every component.
"""

import logging

import numpy as np
import pandas as pd

from gravsep.atomic import write_csv
from gravsep.evaluation import calibration, metrics
from gravsep.formats.predictions import Predictions, spread
from gravsep.formats.samples import Samples

log = logging.getLogger(__name__)

SPLITS = ("validation", "test")
CSV_COLUMNS = ["model", "split", "component", "spread_skill", "coverage_68", "coverage_95",
               "crps", "scale", "floor"]  # fmt: skip
MEMBER_COLUMNS = ["model", "member", "split", "component", "rel_rms"]


def read_split(samples, preds, years):
    """Truth, mean, spread ``(C, lat, lon, T)`` and members ``(M, C, lat, lon, T)`` [m] of
    some years, concatenated along time."""
    parts = {"truth": [], "mean": [], "spread": [], "members": []}
    for year in years:
        members = preds.member_cubes(year)
        parts["truth"].append(samples.cube(year, "target"))
        parts["mean"].append(preds.cube(year))
        parts["members"].append(members)
        parts["spread"].append(spread(members))
    return {k: np.concatenate(v, axis=-1) for k, v in parts.items()}


def member_names(members, mc_passes=1):
    """``m1``, ``m2``, ... for the networks; ``m1.p1``, ``m1.p2``, ... for their MC passes."""
    if mc_passes == 1:
        return [f"m{k + 1}" for k in range(members)]
    return [f"m{k + 1}.p{j + 1}" for k in range(members) for j in range(mc_passes)]


def member_rows(model, split, components, data, lat, names):
    """Rows of the members CSV: each member's and the mean's relative RMS per component."""
    rows = []
    named = list(zip(names, data["members"], strict=True))
    for member, cube in [*named, ("mean", data["mean"])]:
        rel = np.atleast_1d(metrics.relative_rms(cube, data["truth"], lat))
        rows += [
            {
                "model": model,
                "member": member,
                "split": split,
                "component": c,
                "rel_rms": float(v),
            }  # fmt: skip
            for c, v in zip(components, rel, strict=True)
        ]
    return rows


def calibrate(dataset_h5, predictions_h5, out_csv, members_csv, model, variance_scaling=True,
              figures=None, floor=True):  # fmt: skip
    """Score an ensemble's spread, fit the calibration and apply it, write both CSVs.

    Parameters
    ----------
    dataset_h5, predictions_h5 : path-like
    out_csv, members_csv : path-like
        Calibration and members CSVs (module docstring).
    model : str
    variance_scaling : bool
        Fit the calibration on the validation years and apply it to the test years.
    floor : bool
        Fit a floor beside the factor (:func:`gravsep.evaluation.calibration.fit_spread`).
    figures : dict, optional
        ``spread_maps``, ``reliability``: PNG paths of the figures.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The calibration and members tables written.
    """
    rows, member_table, curves = [], [], {}
    with Samples(dataset_h5) as samples, Predictions(predictions_h5, samples) as preds:
        if not preds.is_ensemble:
            raise ValueError(f"{predictions_h5} holds no ensemble (no members, no spread)")
        comps, lat = samples.components, samples.lat
        fit = [(1.0, 0.0)] * len(comps)
        for split in SPLITS:
            years = samples.split_years(split)
            if not years:
                raise ValueError(f"{dataset_h5} has no {split} years")
            data = read_split(samples, preds, years)
            names = member_names(preds.members, preds.mc_passes)
            member_table += member_rows(model, split, comps, data, lat, names)
            if split == "validation" and variance_scaling:
                fit = [calibration.fit_spread(data["mean"][c], data["spread"][c],
                                              data["truth"][c], lat, floor=floor)
                       for c in range(len(comps))]  # fmt: skip
            if split == "test":
                data["spread"] = np.stack([
                    calibration.calibrated(data["spread"][c], *fit[c]) for c in range(len(comps))
                ])  # fmt: skip
            for c, comp in enumerate(comps):
                args = (data["mean"][c], data["spread"][c], data["truth"][c], lat)
                row = {"model": model, "split": split, "component": comp,
                       **calibration.scores(*args), "scale": fit[c][0],
                       "floor": fit[c][1]}  # fmt: skip
                rows.append(row)
                curves[(split, comp)] = calibration.reliability(*args)
                log.info("%s %s %s: %s", model, split, comp, row)
            if split == "test" and figures:
                from gravsep.evaluation import calibration_figures

                first = samples.numt(years[0])
                calibration_figures.spread_maps(
                    data["mean"][..., :first] - data["truth"][..., :first],
                    data["spread"][..., :first],
                    samples.lat, samples.lon, comps, figures["spread_maps"],
                    title=f"model {model}, test year {years[0]}",
                )  # fmt: skip
            del data
    if figures:
        from gravsep.evaluation import calibration_figures

        calibration_figures.reliability(curves, comps, figures["reliability"], model=model)
    table = pd.DataFrame(rows, columns=CSV_COLUMNS)
    write_csv(table, out_csv, index=False, float_format="%.6g")
    members = pd.DataFrame(member_table, columns=MEMBER_COLUMNS)
    write_csv(members, members_csv, index=False, float_format="%.6g")
    return table, members


def calibration_table(paths, out_csv):
    """The calibration CSVs of every ensemble model as one table (``results/calibration.csv``)."""
    frames = [pd.read_csv(p) for p in paths]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CSV_COLUMNS)
    write_csv(table[CSV_COLUMNS], out_csv, index=False, float_format="%.6g")
    return table
