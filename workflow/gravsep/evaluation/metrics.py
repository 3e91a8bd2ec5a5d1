"""Error metrics of separated signals on lat-lon-t cubes.

All functions take cubes whose last three axes are ``(lat, lon, t)`` (any leading axes, e.g.
components, are kept) in metres of EWH and the grid latitudes in degrees. Grid cells of one
row have equal area, so only the latitude needs a weight: the relative row area
:func:`gravsep.harmonics.grids.area_weights` (cos(lat), summing to 1).

Differences from the reference (method note §8)
-----------------------------------------------
The reference averaged over latitude with equal weights, so polar rows, which cover little
area on a Driscoll-Healy grid, counted as much as equatorial ones. Here every average that runs
over latitude (RMS along longitude, RMS along time, the global RMS and everything derived from
it) is area-weighted.
"""

from itertools import combinations

import numpy as np

from gravsep.harmonics.grids import area_weights


def _mean_square(cube):
    """``cube**2`` in float64 (no overflow or round-off from float32 inputs)."""
    x = np.asarray(cube, dtype=np.float64)
    return x * x


def _lat_weights(lat, n_lat):
    w = area_weights(lat)
    if w.shape != (n_lat,):
        raise ValueError(f"{w.shape[0]} latitudes for a cube with {n_lat} rows")
    return w


def rms_along_lat(cube):
    """RMS per latitude row, over longitude and time.

    Parameters
    ----------
    cube : array_like
        ``(..., lat, lon, t)`` [m].

    Returns
    -------
    numpy.ndarray
        ``(..., lat)`` [m]. No area weight is needed: every cell of a row has the same area.
    """
    return np.sqrt(_mean_square(cube).mean(axis=(-2, -1)))


def rms_along_lon(cube, lat):
    """RMS per longitude column, over latitude (area-weighted) and time.

    ``sqrt(sum_i w_i mean_t x[i, j, t]^2)`` with the relative row areas ``w_i`` (cos(lat),
    normalised). The reference used equal weights over latitude; this one does not.

    Parameters
    ----------
    cube : array_like
        ``(..., lat, lon, t)`` [m].
    lat : array_like
        ``(lat,)`` latitudes [degrees].

    Returns
    -------
    numpy.ndarray
        ``(..., lon)`` [m].
    """
    ms = _mean_square(cube).mean(axis=-1)  # (..., lat, lon)
    w = _lat_weights(lat, ms.shape[-2])
    return np.sqrt(np.einsum("...ij,i->...j", ms, w))


def rms_along_time(cube, lat):
    """RMS per time step, over latitude (area-weighted) and longitude.

    ``sqrt(sum_i w_i mean_j x[i, j, t]^2)`` with the relative row areas ``w_i``. The reference
    used equal weights over latitude; this one does not.

    Parameters
    ----------
    cube : array_like
        ``(..., lat, lon, t)`` [m].
    lat : array_like
        ``(lat,)`` latitudes [degrees].

    Returns
    -------
    numpy.ndarray
        ``(..., t)`` [m].
    """
    ms = _mean_square(cube).mean(axis=-2)  # (..., lat, t)
    w = _lat_weights(lat, ms.shape[-2])
    return np.sqrt(np.einsum("...it,i->...t", ms, w))


def rms(cube, lat):
    """Global area-weighted RMS over latitude, longitude and time.

    Parameters
    ----------
    cube : array_like
        ``(..., lat, lon, t)`` [m].
    lat : array_like
        ``(lat,)`` latitudes [degrees].

    Returns
    -------
    numpy.ndarray or float
        ``(...)`` [m].
    """
    ms = _mean_square(cube).mean(axis=(-2, -1))  # (..., lat)
    w = _lat_weights(lat, ms.shape[-1])
    return np.sqrt(ms @ w)


def relative_rms(prediction, truth, lat):
    """Relative RMS error ``RMS(prediction - truth) / RMS(truth)``, area-weighted.

    0 for a perfect prediction, 1 for a prediction of zero.

    Parameters
    ----------
    prediction, truth : array_like
        ``(..., lat, lon, t)`` [m].
    lat : array_like
        ``(lat,)`` latitudes [degrees].

    Returns
    -------
    numpy.ndarray or float
        ``(...)`` dimensionless; NaN where the truth is zero everywhere.
    """
    err = np.asarray(prediction, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    num = rms(err, lat)
    den = rms(truth, lat)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)[()]


def subsets(n, sizes=None):
    """Index tuples of the component subsets whose summed errors are evaluated.

    Parameters
    ----------
    n : int
        Number of components.
    sizes : iterable of int, optional
        Subset sizes; default 1 (single components), 2 (pairs) and ``n`` (all components).

    Returns
    -------
    list of tuple of int
    """
    sizes = sorted({1, 2, n} if sizes is None else set(sizes))
    return [c for k in sizes if 1 <= k <= n for c in combinations(range(n), k)]


def combined_errors(errors, lat, index_sets=None):
    """RMS of summed errors of component subsets, and the normalised version.

    For a subset ``K`` of components with errors ``e_c = prediction_c - truth_c``:
    ``rms_K = RMS(sum_{c in K} e_c)`` and
    ``normalised_K = RMS(sum_{c in K} e_c) / sum_{c in K} RMS(e_c)``.
    A normalised value near 0 means the errors cancel in the sum: signal was assigned to the
    wrong component of the subset. Near 1 the errors add up: signal is missing from (or
    surplus in) the subset's sum. All RMS values are area-weighted over latitude.

    Parameters
    ----------
    errors : array_like
        ``(comp, lat, lon, t)`` errors [m].
    lat : array_like
        ``(lat,)`` latitudes [degrees].
    index_sets : list of tuple of int, optional
        Subsets to evaluate; default :func:`subsets` (singles, pairs, all).

    Returns
    -------
    index_sets : list of tuple of int
    rms : numpy.ndarray
        ``(len(index_sets),)`` [m].
    normalised : numpy.ndarray
        ``(len(index_sets),)`` dimensionless; 1 for single components.
    """
    errors = np.asarray(errors)
    if index_sets is None:
        index_sets = subsets(errors.shape[0])
    single = np.asarray(rms(errors, lat), dtype=float)
    out_rms = np.empty(len(index_sets))
    out_norm = np.empty(len(index_sets))
    for k, idx in enumerate(index_sets):
        idx = list(idx)
        total = errors[idx[0]].astype(np.float64)
        for c in idx[1:]:
            total = total + errors[c]
        out_rms[k] = rms(total, lat)
        denom = single[idx].sum()
        out_norm[k] = out_rms[k] / denom if denom > 0 else np.nan
    return list(index_sets), out_rms, out_norm


def pair_error_matrix(errors, lat):
    """Pairwise summed-error RMS as a matrix, with single components on the diagonal.

    Parameters
    ----------
    errors : array_like
        ``(comp, lat, lon, t)`` errors [m].
    lat : array_like
        ``(lat,)`` latitudes [degrees].

    Returns
    -------
    rms : numpy.ndarray
        ``(comp, comp)``: ``RMS(e_a + e_b)`` off the diagonal, ``RMS(e_a)`` on it [m].
    normalised : numpy.ndarray
        ``(comp, comp)``: ``RMS(e_a + e_b) / (RMS(e_a) + RMS(e_b))``, 1 on the diagonal.
    """
    n = np.shape(errors)[0]
    sets = [(a,) if a == b else (a, b) for a in range(n) for b in range(n) if a <= b]
    _, values, norm = combined_errors(errors, lat, sets)
    out_rms = np.empty((n, n))
    out_norm = np.empty((n, n))
    for (a, *rest), v, q in zip(sets, values, norm, strict=True):
        b = rest[0] if rest else a
        out_rms[a, b] = out_rms[b, a] = v
        out_norm[a, b] = out_norm[b, a] = q
    return out_rms, out_norm


def subset_label(index_set, components):
    """Label of a component subset, e.g. ``"AO+H"``."""
    return "+".join(str(components[i]) for i in index_set)
