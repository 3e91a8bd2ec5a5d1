"""Evaluation of a trained separation model: metrics, baselines and the data behind the figures.

Reads the dataset (:mod:`gravsep.formats.samples`) and the predictions
(:mod:`gravsep.formats.predictions`), maps both back to the windows, and writes:

Metrics (output, CSV)
    columns ``model, method, split, year, component, rel_rms``: one row per method
    (``unet`` and every baseline of :data:`gravsep.evaluation.baselines.BASELINES`), split
    (``validation``, ``test``), year and component, plus component ``sum`` (the error of the
    summed prediction relative to the summed truth). ``rel_rms`` = RMS(pred - true)/RMS(true),
    area-weighted over the year's windows, dimensionless.
Evaluation (output, HDF5), for the first test year
    the data behind the figures: layout in :mod:`gravsep.formats.evaluation`.
"""

import functools
import logging

import numpy as np
import pandas as pd

from gravsep.atomic import write_csv
from gravsep.evaluation import classical as classical_chain
from gravsep.evaluation import metrics
from gravsep.evaluation.baselines import BASELINES, training_statistics
from gravsep.formats.evaluation import Evaluation, write_evaluation
from gravsep.formats.predictions import Predictions
from gravsep.formats.samples import Samples
from gravsep.formats.training_log import best_epoch
from gravsep.harmonics.grids import analyze, degree_amplitudes, is_global

log = logging.getLogger(__name__)

SPLITS = ("validation", "test")
NETWORK = "unet"
CSV_COLUMNS = ["model", "input_noise", "method", "split", "year", "component", "rel_rms"]


def _with_sum(cube):
    """Append the sum over components as an extra component: ``(C+1, ...)``."""
    cube = np.asarray(cube)
    return np.concatenate([cube, cube.sum(axis=0, dtype=np.float64)[None].astype(cube.dtype)])


def method_rows(model, method, split, year, components, prediction, truth, lat,
                input_noise="none"):  # fmt: skip
    """Metric rows (dicts with :data:`CSV_COLUMNS`) of one method and year.

    Parameters
    ----------
    prediction, truth : numpy.ndarray
        ``(C, lat, lon, t)`` [m].
    input_noise : str
        The noise of the input the method saw (``none`` or the noise definition's short id).
    """
    rel = metrics.relative_rms(prediction, truth, lat)
    rel_sum = metrics.relative_rms(prediction.sum(axis=0), truth.sum(axis=0), lat)
    names = list(components) + ["sum"]
    values = list(np.atleast_1d(rel)) + [rel_sum]
    return [
        {
            "model": model,
            "input_noise": input_noise,
            "method": method,
            "split": split,
            "year": int(year),
            "component": name,
            "rel_rms": float(v),
        }
        for name, v in zip(names, values, strict=True)
    ]


def evaluation_record(*, model, year, sampling, components, lat, lon, time, truth, prediction,
                      relative, epoch_index=None, best_epoch=-1):  # fmt: skip
    """Attributes and arrays of the evaluation file (:mod:`gravsep.formats.evaluation`).

    Parameters
    ----------
    truth, prediction : numpy.ndarray
        ``(C, lat, lon, t)`` [m].
    relative : dict
        Method name -> ``(C+1,)`` relative RMS errors.
    epoch_index : int, optional
        Window of the maps and degree amplitudes; default the middle one.

    Returns
    -------
    gravsep.formats.evaluation.Evaluation
    """
    n_t = truth.shape[-1]
    k = n_t // 2 if epoch_index is None else int(epoch_index)
    if not 0 <= k < n_t:
        raise ValueError(f"epoch index {k} outside 0..{n_t - 1}")
    error = prediction - truth
    glob = is_global(lat, lon)
    attrs = {
        "components": list(components), "labels": list(components) + ["sum"],
        "model": str(model), "year": int(year), "sampling": str(sampling), "epoch_index": k,
        "epoch_time": int(time[k]) if len(time) == n_t else -1, "global": glob,
        "best_epoch": int(best_epoch),
    }  # fmt: skip
    fields = {"truth": truth, "prediction": prediction, "error": error}
    profiles, amplitudes = {"lat": {}, "lon": {}, "time": {}}, {}
    for name, cube in fields.items():  # one field with its sum in memory at a time
        full = _with_sum(cube)
        profiles["lat"][name] = metrics.rms_along_lat(full)
        profiles["lon"][name] = metrics.rms_along_lon(full, lat)
        profiles["time"][name] = metrics.rms_along_time(full, lat)
        if glob:
            amplitudes[name] = degree_amplitudes(analyze(full[..., k]))
        del full
    pair_rms, pair_norm = metrics.pair_error_matrix(error, lat)
    sets, sub_rms, sub_norm = metrics.combined_errors(error, lat)
    errors = {
        "pair_rms": pair_rms, "pair_normalised": pair_norm, "subset_rms": sub_rms,
        "subset_labels": [metrics.subset_label(s, components) for s in sets],
        "subset_normalised": sub_norm,
    }  # fmt: skip
    return Evaluation(
        attrs=attrs, lat=lat, lon=lon, time=time, profiles=profiles,
        maps={n: cube[..., k] for n, cube in fields.items()},
        relative_rms={m: np.asarray(v, dtype=np.float64) for m, v in relative.items()},
        component_errors=errors,
        degree=np.arange(truth.shape[-2] // 2) if glob else None,
        degree_amplitudes=amplitudes if glob else None,
    )  # fmt: skip


def evaluate(
    dataset_h5,
    predictions_h5,
    out_h5,
    out_csv,
    model_name,
    training_log=None,
    epoch_index=None,
    baselines=None,
    classical=None,
):
    """Evaluate a model's predictions and the baselines on the validation and test years.

    Parameters
    ----------
    dataset_h5, predictions_h5 : path-like
        Dataset and prediction files (layouts in the module docstring).
    out_h5 : path-like or None
        Evaluation HDF5 written for the first test year (None: not written, as for a model
        evaluated on another model's dataset).
    out_csv : path-like
        Metrics CSV.
    model_name : str
        Value of the ``model`` column and attribute.
    training_log : path-like, optional
        Training log; its ``best_epoch`` is recorded in the evaluation HDF5.
    epoch_index : int, optional
        Window of maps and degree amplitudes; default the middle window of the test year.
    baselines : dict, optional
        Name -> baseline function; default :data:`gravsep.evaluation.baselines.BASELINES`.
    classical : dict, optional
        Settings of the classical chain (:mod:`gravsep.evaluation.classical`), evaluated as
        baseline ``filter_pca`` on global grids; None: not evaluated.

    Returns
    -------
    pandas.DataFrame
        The metrics written to ``out_csv``.
    """
    baselines = dict(BASELINES if baselines is None else baselines)
    rows = []
    with Samples(dataset_h5) as samples, Predictions(predictions_h5, samples) as preds:
        test_years = samples.split_years("test")
        if not test_years:
            raise ValueError(f"{dataset_h5} has no test years")
        if classical is not None and is_global(samples.lat, samples.lon):
            baselines[classical_chain.NAME] = functools.partial(
                classical_chain.filter_pca, settings=dict(classical)
            )
        eofs = "pca" in baselines or classical_chain.NAME in baselines
        stats = (training_statistics(samples, eofs=eofs, regression="regression" in baselines)
                 if baselines else None)  # fmt: skip
        noise = samples.noise_id
        for split in SPLITS:
            for year in samples.split_years(split):
                preds.prediction(year)  # refuse a missing year before the work
                log.info("evaluating %s %s year %d (%d windows)", model_name, split, year,
                         samples.numt(year))  # fmt: skip
                truth, pred = samples.cube(year, "target"), preds.cube(year)
                summed = samples.cube(year, "input")
                relative = {}
                for method in [NETWORK, *baselines]:
                    p = pred if method == NETWORK else baselines[method](summed, stats)
                    new = method_rows(model_name, method, split, year, samples.components, p,
                                      truth, samples.lat, noise)  # fmt: skip
                    rows += new
                    relative[method] = [r["rel_rms"] for r in new]
                    del p
                if split == "test" and year == test_years[0] and out_h5 is not None:
                    record = evaluation_record(
                        model=model_name, year=year, sampling=samples.sampling,
                        components=samples.components, lat=samples.lat, lon=samples.lon,
                        time=samples.time(year), truth=truth, prediction=pred,
                        relative=relative, epoch_index=epoch_index,
                        best_epoch=best_epoch(training_log),
                    )  # fmt: skip
                    write_evaluation(out_h5, record)
                del truth, pred, summed
    df = pd.DataFrame(rows, columns=CSV_COLUMNS)
    write_csv(df, out_csv, index=False, float_format="%.6g")
    return df
