"""Evaluation of a trained separation model: metrics, baselines and the data behind the figures.

File layouts
------------
Dataset (input, ``samples.h5``)
    root attrs ``components`` (list of str), ``sampling`` (``lat_lon`` | ``lat_t`` | ``t_lon``),
    ``dim``, ``train_years``, ``validation_years``, ``test_years`` (int lists);
    ``/lat``, ``/lon`` (dim,) [degrees];
    ``/years/<YYYY>/input`` (S, dim, dim) float32 [m EWH];
    ``/years/<YYYY>/target`` (S, dim, dim, C) float32 [m EWH];
    ``/years/<YYYY>/time`` (numt,) int64 [s since 1970], window mid epochs; attr ``numt``.
    Optional ``/random/g_pinv`` (dim, S): pseudo-inverse of a random mixing of the samples
    (method note §3.7), applied over the sample axis before mapping back.
Predictions (input, ``predictions.h5``)
    ``/years/<YYYY>/prediction`` (S, dim, dim, C) float32 [m EWH]; root attrs ``components``,
    ``sampling``.
Metrics (output, CSV)
    columns ``model, method, split, year, component, rel_rms``: one row per method
    (``unet`` and every baseline of :data:`gravsep.evaluation.baselines.BASELINES`), split
    (``validation``, ``test``), year and component, plus component ``sum`` (the error of the
    summed prediction relative to the summed truth). ``rel_rms`` = RMS(pred - true)/RMS(true),
    area-weighted over the year's windows, dimensionless.
Evaluation (output, HDF5), for the first test year
    attrs ``components``, ``labels`` (components + ``"sum"``), ``model``, ``year``,
    ``sampling``, ``epoch_index`` (0-based window of the maps and degree amplitudes),
    ``epoch_time`` [s since 1970], ``global`` (bool), ``best_epoch`` (1-based, -1 if unknown);
    ``/lat`` (nlat,), ``/lon`` (nlon,) [degrees]; ``/time`` (numt,) int64 [s since 1970];
    ``/profiles/{lat,lon,time}/{truth,prediction,error}`` (C+1, n) [m]: RMS along each axis
    (:mod:`gravsep.evaluation.metrics`), rows in ``labels`` order (last row: sum of components);
    ``/relative_rms/<method>`` (C+1,) dimensionless;
    ``/degree_amplitudes/{truth,prediction,error}`` (C+1, lmax+1) [m] and
    ``/degree_amplitudes/degree`` (lmax+1,), only for global grids;
    ``/maps/{truth,prediction,error}`` (C, nlat, nlon) float32 [m] at ``epoch_index``;
    ``/component_errors/pair_rms`` (C, C) [m] (diagonal: single components) and
    ``/component_errors/pair_normalised`` (C, C); ``/component_errors/subset_labels`` (K,),
    ``subset_rms`` (K,) [m], ``subset_normalised`` (K,) for singles, pairs and the sum of all.
"""

import logging

import h5py
import numpy as np
import pandas as pd

from gravsep.dataset.sampling import resample_time, samples_to_cube
from gravsep.evaluation import metrics
from gravsep.evaluation.baselines import BASELINES, training_statistics, unmix
from gravsep.harmonics.grids import analyze, degree_amplitudes

log = logging.getLogger(__name__)

SPLITS = ("validation", "test")
NETWORK = "unet"
CSV_COLUMNS = ["model", "method", "split", "year", "component", "rel_rms"]


def _as_str(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _as_str_list(values):
    return [_as_str(v) for v in np.atleast_1d(values)]


def _years(attrs, split):
    key = f"{split}_years"
    if key not in attrs:
        return []
    return [int(y) for y in np.atleast_1d(attrs[key])]


#: Per sampling: the cube axis ``(lat, lon, t)`` that the sample axis runs along.
_SAMPLE_AXIS = {"lat_lon": 2, "lat_t": 1, "t_lon": 0}


def read_cube(dataset, sampling, numt, g_pinv=None, chunk=16):
    """Map stored samples back to a lat-lon-t cube with ``numt`` windows.

    Inverse of the sampling transposes (:func:`gravsep.dataset.sampling.samples_to_cube`), then the
    time axis is resampled from ``dim`` network steps back to the ``numt`` windows
    (:func:`gravsep.dataset.sampling.resample_time`). Samples are read ``chunk`` at a time along the
    sample axis (the axis the dataset is chunked along). Where the samples are maps at one
    time step (``lat_lon``), the linear time resampling is applied as a matrix and accumulated
    block by block, so only the output cube has to fit in memory.

    Parameters
    ----------
    dataset : h5py.Dataset or numpy.ndarray
        ``(S, dim, dim)`` or ``(S, dim, dim, C)`` samples [m].
    sampling : str
        ``lat_lon``, ``lat_t`` or ``t_lon``.
    numt : int
        Number of windows of the year.
    g_pinv : numpy.ndarray, optional
        ``(dim, S)`` pseudo-inverse of a random sample mixing (method note §3.7); the
        original samples are ``g_pinv @ samples``.
    chunk : int
        Samples read at a time.

    Returns
    -------
    numpy.ndarray
        ``(lat, lon, numt)`` or ``(C, lat, lon, numt)`` float32 [m].
    """
    if sampling not in _SAMPLE_AXIS:
        raise ValueError(f"unknown sampling {sampling!r}")
    n = dataset.shape[0]
    if g_pinv is not None:
        cube = samples_to_cube(unmix(dataset, g_pinv, chunk), sampling)
        return resample_time(cube, numt).astype(np.float32)
    axis = _SAMPLE_AXIS[sampling]
    out = None
    weights = None
    if axis == 2:  # samples are time steps: resampling matrix (n, numt)
        weights = resample_time(np.eye(n, dtype=np.float64), numt).astype(np.float32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        part = samples_to_cube(np.asarray(dataset[start:stop], dtype=np.float32), sampling)
        if weights is not None:
            contrib = part @ weights[start:stop]
            if out is None:
                out = contrib
            else:
                out += contrib
            continue
        part = resample_time(part, numt).astype(np.float32)
        if out is None:
            shape = list(part.shape)
            shape[axis - 3] = n
            out = np.empty(shape, dtype=np.float32)
        index = [slice(None)] * out.ndim
        index[axis - 3] = slice(start, stop)
        out[tuple(index)] = part
    return out


def is_global(lat, lon):
    """Whether ``lat``, ``lon`` [degrees] are the full DH grid (sampling 1) of their size."""
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    dim = lat.size
    if lon.size != dim or dim < 4 or dim % 2:
        return False
    i = np.arange(dim)
    return bool(
        np.allclose(lat, 90.0 - 180.0 / dim * i, atol=1e-6)
        and np.allclose(lon, 360.0 / dim * i, atol=1e-6)
    )


def _with_sum(cube):
    """Append the sum over components as an extra component: ``(C+1, ...)``."""
    cube = np.asarray(cube)
    return np.concatenate([cube, cube.sum(axis=0, dtype=np.float64)[None].astype(cube.dtype)])


def method_rows(model, method, split, year, components, prediction, truth, lat):
    """Metric rows (dicts with :data:`CSV_COLUMNS`) of one method and year.

    Parameters
    ----------
    prediction, truth : numpy.ndarray
        ``(C, lat, lon, t)`` [m].
    """
    rel = metrics.relative_rms(prediction, truth, lat)
    rel_sum = metrics.relative_rms(prediction.sum(axis=0), truth.sum(axis=0), lat)
    names = list(components) + ["sum"]
    values = list(np.atleast_1d(rel)) + [rel_sum]
    return [
        {
            "model": model,
            "method": method,
            "split": split,
            "year": int(year),
            "component": name,
            "rel_rms": float(v),
        }
        for name, v in zip(names, values, strict=True)
    ]


def write_evaluation(
    out_h5,
    *,
    model,
    year,
    sampling,
    components,
    lat,
    lon,
    time,
    truth,
    prediction,
    relative,
    epoch_index=None,
    best_epoch=-1,
):
    """Write the evaluation HDF5 (layout in the module docstring) for one year.

    Parameters
    ----------
    truth, prediction : numpy.ndarray
        ``(C, lat, lon, t)`` [m].
    relative : dict
        Method name -> ``(C+1,)`` relative RMS errors.
    epoch_index : int, optional
        Window of the maps and degree amplitudes; default the middle one.
    """
    n_t = truth.shape[-1]
    k = n_t // 2 if epoch_index is None else int(epoch_index)
    if not 0 <= k < n_t:
        raise ValueError(f"epoch index {k} outside 0..{n_t - 1}")
    error = prediction - truth
    labels = list(components) + ["sum"]
    glob = is_global(lat, lon)
    fields = {"truth": truth, "prediction": prediction, "error": error}
    with h5py.File(out_h5, "w") as f:
        f.attrs["components"] = list(components)
        f.attrs["labels"] = labels
        f.attrs["model"] = str(model)
        f.attrs["year"] = int(year)
        f.attrs["sampling"] = str(sampling)
        f.attrs["epoch_index"] = k
        f.attrs["epoch_time"] = int(time[k]) if len(time) == n_t else -1
        f.attrs["global"] = glob
        f.attrs["best_epoch"] = int(best_epoch)
        f["lat"] = np.asarray(lat, dtype=np.float64)
        f["lon"] = np.asarray(lon, dtype=np.float64)
        f["time"] = np.asarray(time, dtype=np.int64)
        for name, cube in fields.items():
            full = _with_sum(cube)
            f[f"profiles/lat/{name}"] = metrics.rms_along_lat(full)
            f[f"profiles/lon/{name}"] = metrics.rms_along_lon(full, lat)
            f[f"profiles/time/{name}"] = metrics.rms_along_time(full, lat)
            f[f"maps/{name}"] = np.asarray(cube[..., k], dtype=np.float32)
            if glob:
                cs = analyze(full[..., k])
                f[f"degree_amplitudes/{name}"] = degree_amplitudes(cs)
        if glob:
            f["degree_amplitudes/degree"] = np.arange(truth.shape[-2] // 2)
        for method, values in relative.items():
            f[f"relative_rms/{method}"] = np.asarray(values, dtype=np.float64)
        pair_rms, pair_norm = metrics.pair_error_matrix(error, lat)
        sets, sub_rms, sub_norm = metrics.combined_errors(error, lat)
        g = f.create_group("component_errors")
        g["pair_rms"] = pair_rms
        g["pair_normalised"] = pair_norm
        g["subset_labels"] = [metrics.subset_label(s, components) for s in sets]
        g["subset_rms"] = sub_rms
        g["subset_normalised"] = sub_norm


def _best_epoch(training_log):
    if training_log is None:
        return -1
    with h5py.File(training_log, "r") as f:
        return int(f.attrs.get("best_epoch", -1))


def evaluate(
    dataset_h5,
    predictions_h5,
    out_h5,
    out_csv,
    model_name,
    training_log=None,
    epoch_index=None,
    baselines=None,
):
    """Evaluate a model's predictions and the baselines on the validation and test years.

    Parameters
    ----------
    dataset_h5, predictions_h5 : path-like
        Dataset and prediction files (layouts in the module docstring).
    out_h5 : path-like
        Evaluation HDF5 written for the first test year.
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

    Returns
    -------
    pandas.DataFrame
        The metrics written to ``out_csv``.
    """
    baselines = BASELINES if baselines is None else baselines
    rows = []
    with h5py.File(dataset_h5, "r") as fd, h5py.File(predictions_h5, "r") as fp:
        components = _as_str_list(fd.attrs["components"])
        sampling = _as_str(fd.attrs["sampling"])
        if "components" in fp.attrs and _as_str_list(fp.attrs["components"]) != components:
            raise ValueError(
                f"components of {predictions_h5} ({_as_str_list(fp.attrs['components'])}) "
                f"differ from the dataset's ({components})"
            )
        if "sampling" in fp.attrs and _as_str(fp.attrs["sampling"]) != sampling:
            raise ValueError(f"sampling of {predictions_h5} differs from the dataset's")
        lat = fd["lat"][()]
        lon = fd["lon"][()]
        g_pinv = fd["random/g_pinv"][()] if "random/g_pinv" in fd else None
        test_years = _years(fd.attrs, "test")
        if not test_years:
            raise ValueError(f"{dataset_h5} has no test years")
        stats = training_statistics(dataset_h5, eofs="pca" in baselines) if baselines else None
        for split in SPLITS:
            for year in _years(fd.attrs, split):
                grp = fd[f"years/{year}"]
                key = f"years/{year}/prediction"
                if key not in fp:
                    raise KeyError(f"{predictions_h5} has no {key}")
                time = grp["time"][()]
                numt = int(grp.attrs.get("numt", len(time)))
                log.info("evaluating %s %s year %d (%d windows)", model_name, split, year, numt)
                truth = read_cube(grp["target"], sampling, numt, g_pinv)
                pred = read_cube(fp[key], sampling, numt, g_pinv)
                summed = read_cube(grp["input"], sampling, numt, g_pinv)
                relative = {}
                for method in [NETWORK, *baselines]:
                    p = pred if method == NETWORK else baselines[method](summed, stats)
                    new = method_rows(model_name, method, split, year, components, p, truth, lat)
                    rows += new
                    relative[method] = [r["rel_rms"] for r in new]
                    del p
                if split == "test" and year == test_years[0]:
                    write_evaluation(
                        out_h5,
                        model=model_name,
                        year=year,
                        sampling=sampling,
                        components=components,
                        lat=lat,
                        lon=lon,
                        time=time,
                        truth=truth,
                        prediction=pred,
                        relative=relative,
                        epoch_index=epoch_index,
                        best_epoch=_best_epoch(training_log),
                    )
                del truth, pred, summed
    df = pd.DataFrame(rows, columns=CSV_COLUMNS)
    df.to_csv(out_csv, index=False, float_format="%.6g")
    return df
