"""Baseline separations to compare the network with.

A baseline is a function ``f(input_cube, stats) -> prediction`` where ``input_cube`` is the
summed signal ``(lat, lon, t)`` [m EWH], ``stats`` the dictionary of training statistics from
:func:`training_statistics` and the prediction is ``(comp, lat, lon, t)`` [m EWH].
:data:`BASELINES` maps a method name to its function; a new baseline (e.g. PCA) plugs in by
adding an entry (and, if it needs more from the training years, a key in the statistics).

Baselines
---------
zero
    Predict 0 for every component: relative RMS error 1 by construction.
proportional
    Split the input in proportion to each component's share of the signal variance over the
    training years: ``pred_c = input * var_c / sum_k var_k``. For zero-mean, mutually
    uncorrelated components this is the least-squares optimal constant split.
"""

import h5py
import numpy as np

from .grids import area_weights


def _as_str_list(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _sample_lat_axis(sampling):
    """Axis of a ``(sample, row, column, comp)`` array that runs along latitude."""
    return {"lat_lon": 1, "lat_t": 1, "t_lon": 0}[sampling]


def unmix(dataset, g_pinv, chunk=16):
    """Original samples ``g_pinv @ samples`` of randomly mixed samples (method note §3.7).

    Parameters
    ----------
    dataset : h5py.Dataset or numpy.ndarray
        ``(S, ...)`` mixed samples, read ``chunk`` at a time.
    g_pinv : array_like
        ``(n, S)`` pseudo-inverse of the mixing matrix.

    Returns
    -------
    numpy.ndarray
        ``(n, ...)`` float32, in the units of the samples.
    """
    g_pinv = np.asarray(g_pinv, dtype=np.float64)
    n = dataset.shape[0]
    if g_pinv.shape[1] != n:
        raise ValueError(f"g_pinv {g_pinv.shape} does not fit {n} stored samples")
    orig = np.zeros((g_pinv.shape[0],) + tuple(dataset.shape[1:]), dtype=np.float64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        block = np.asarray(dataset[start:stop], dtype=np.float64)
        orig += np.tensordot(g_pinv[:, start:stop], block, axes=(1, 0))
    return orig.astype(np.float32)


def training_statistics(dataset_h5, years=None, chunk=16):
    """Area-weighted statistics of the targets over the training years.

    Reads the targets in chunks of ``chunk`` samples, so memory stays small for large grids
    (randomly mixed samples are unmixed first, a year at a time).
    The statistics are taken over the samples as stored (time resampled to ``dim`` steps),
    which weights every part of the year equally.

    Parameters
    ----------
    dataset_h5 : path-like
        Dataset file (layout in :mod:`gravsep.evaluation`).
    years : iterable of int, optional
        Years to use; default the file's ``train_years``.
    chunk : int
        Samples read at a time.

    Returns
    -------
    dict
        ``components`` (list of str), ``years`` (list of int),
        ``mean`` (comp,) area-weighted mean [m],
        ``variance`` (comp,) area-weighted variance about that mean [m^2],
        ``mean_square`` (comp,) area-weighted mean square [m^2].
    """
    with h5py.File(dataset_h5, "r") as f:
        components = _as_str_list(f.attrs["components"])
        sampling = f.attrs["sampling"]
        sampling = sampling.decode() if isinstance(sampling, bytes) else str(sampling)
        if years is None:
            years = [int(y) for y in np.atleast_1d(f.attrs["train_years"])]
        w_lat = area_weights(f["lat"][()])
        lat_axis = _sample_lat_axis(sampling)
        n_comp = len(components)
        s1 = np.zeros(n_comp)
        s2 = np.zeros(n_comp)
        wsum = 0.0
        g_pinv = f["random/g_pinv"][()] if "random/g_pinv" in f else None
        for year in years:
            target = f[f"years/{year}/target"]
            if g_pinv is not None:
                target = unmix(target, g_pinv, chunk)
            n_s = target.shape[0]
            for start in range(0, n_s, chunk):
                block = target[start : start + chunk].astype(np.float64)
                w = w_lat[start : start + block.shape[0]] if lat_axis == 0 else w_lat
                shape = [1, 1, 1, 1]
                shape[lat_axis] = w.shape[0]
                wb = w.reshape(shape)
                s1 += (block * wb).sum(axis=(0, 1, 2))
                s2 += (block * block * wb).sum(axis=(0, 1, 2))
                wsum += float(np.broadcast_to(wb[..., 0], block.shape[:3]).sum())
    if wsum <= 0:
        raise ValueError(f"no training samples in {dataset_h5} for years {list(years)}")
    mean = s1 / wsum
    mean_square = s2 / wsum
    return {
        "components": components,
        "years": [int(y) for y in years],
        "mean": mean,
        "mean_square": mean_square,
        "variance": np.maximum(mean_square - mean**2, 0.0),
    }


def zero(input_cube, stats):
    """Predict zero for every component.

    Parameters
    ----------
    input_cube : array_like
        ``(lat, lon, t)`` summed signal [m].
    stats : dict
        Training statistics; only ``components`` is used.

    Returns
    -------
    numpy.ndarray
        ``(comp, lat, lon, t)`` zeros [m], float32.
    """
    shape = (len(stats["components"]),) + np.shape(input_cube)
    return np.zeros(shape, dtype=np.float32)


def proportional(input_cube, stats):
    """Split the input by the components' training variances.

    ``pred_c = input * var_c / sum_k var_k`` with ``var`` the area-weighted variances of
    :func:`training_statistics`. The predicted components add up to the input.

    Parameters
    ----------
    input_cube : array_like
        ``(lat, lon, t)`` summed signal [m].
    stats : dict
        Training statistics with ``variance`` (comp,) [m^2].

    Returns
    -------
    numpy.ndarray
        ``(comp, lat, lon, t)`` [m], float32.
    """
    var = np.asarray(stats["variance"], dtype=np.float64)
    total = var.sum()
    share = var / total if total > 0 else np.full(var.shape, 1.0 / var.size)
    x = np.asarray(input_cube, dtype=np.float32)
    return share.astype(np.float32)[:, None, None, None] * x[None]


#: Baseline name -> function(input cube (lat, lon, t), training statistics) -> prediction.
BASELINES = {"zero": zero, "proportional": proportional}
