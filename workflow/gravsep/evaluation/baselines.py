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
pca
    Empirical orthogonal functions (EOFs) of every component, learned on the training years
    (:func:`eof_statistics`, area-weighted): per component the leading EOFs that explain
    ``variance_fraction`` of its variance, at most ``n_eofs``. The input, less the sum of the
    components' training means, is fitted by area-weighted least squares on the stacked EOFs
    of all components, ``input - sum_c mu_c = sum_c E_c a_c``, and each component is
    ``pred_c = mu_c + E_c a_c``. Where the EOF spaces overlap, the minimum-norm solution
    decides the split. Needs the ``eof_*`` keys of ``training_statistics(..., eofs=True)``.
regression
    A linear map from the whole input map to every component, fitted by ridge regression on
    the training years, its regularisation chosen per component on the validation years
    (:mod:`gravsep.evaluation.regression`). Needs the ``reg_*`` keys of
    ``training_statistics(..., regression=True)``.
"""

import numpy as np

from gravsep.dataset.sampling import lat_axis, unmix
from gravsep.evaluation.regression import pixel_weights as _pixel_weights
from gravsep.evaluation.regression import regression, regression_statistics
from gravsep.formats.samples import opened
from gravsep.harmonics.grids import area_weights


def training_statistics(
    dataset_h5,
    years=None,
    chunk=16,
    eofs=False,
    n_eofs=10,
    variance_fraction=0.99,
    regression=False,
):
    """Area-weighted statistics of the targets over the training years.

    Reads the targets in chunks of ``chunk`` samples, so memory stays small for large grids
    (randomly mixed samples are unmixed first, a year at a time).
    The statistics are taken over the samples as stored (time resampled to ``dim`` steps),
    which weights every part of the year equally.

    Parameters
    ----------
    dataset_h5 : path-like
        Dataset file (path or open :class:`gravsep.formats.samples.Samples`).
    years : iterable of int, optional
        Years to use; default the file's ``train_years``.
    chunk : int
        Samples read at a time.
    eofs : bool
        Also compute the EOFs of the :func:`pca` baseline (:func:`eof_statistics`, which
        reads the training targets once more and keeps them in memory).
    n_eofs, variance_fraction
        Passed to :func:`eof_statistics`.
    regression : bool
        Also fit the :func:`regression` baseline
        (:func:`gravsep.evaluation.regression.regression_statistics`, which holds the
        training and validation windows in memory).

    Returns
    -------
    dict
        ``components`` (list of str), ``years`` (list of int),
        ``mean`` (comp,) area-weighted mean [m],
        ``variance`` (comp,) area-weighted variance about that mean [m^2],
        ``mean_square`` (comp,) area-weighted mean square [m^2];
        with ``eofs=True`` also the keys of :func:`eof_statistics`, with ``regression=True``
        those of :func:`~gravsep.evaluation.regression.regression_statistics`.
    """
    with opened(dataset_h5) as s:
        components, sampling = s.components, s.sampling
        years = s.split_years("train") if years is None else years
        w_lat = area_weights(s.lat)
        axis = lat_axis(sampling)
        n_comp = len(components)
        s1 = np.zeros(n_comp)
        s2 = np.zeros(n_comp)
        wsum = 0.0
        for year in years:
            target = s.target(year)
            if s.g_pinv is not None:
                target = unmix(target, s.g_pinv, chunk)
            n_s = target.shape[0]
            for start in range(0, n_s, chunk):
                block = target[start : start + chunk].astype(np.float64)
                w = w_lat[start : start + block.shape[0]] if axis == 0 else w_lat
                shape = [1, 1, 1, 1]
                shape[axis] = w.shape[0]
                wb = w.reshape(shape)
                s1 += (block * wb).sum(axis=(0, 1, 2))
                s2 += (block * block * wb).sum(axis=(0, 1, 2))
                wsum += float(np.broadcast_to(wb[..., 0], block.shape[:3]).sum())
    if wsum <= 0:
        raise ValueError(f"no training samples in {dataset_h5} for years {list(years)}")
    mean = s1 / wsum
    mean_square = s2 / wsum
    stats = {
        "components": components,
        "years": [int(y) for y in years],
        "mean": mean,
        "mean_square": mean_square,
        "variance": np.maximum(mean_square - mean**2, 0.0),
    }
    if eofs:
        stats.update(
            eof_statistics(
                dataset_h5,
                years=years,
                n_eofs=n_eofs,
                variance_fraction=variance_fraction,
                chunk=chunk,
            )
        )
    if regression:
        stats.update(regression_statistics(dataset_h5, years=years))
    return stats


def _blocks(n, size):
    return [slice(a, min(a + size, n)) for a in range(0, n, size)]


def _leading_eofs(x, w, n_eofs, variance_fraction, block=65536):
    """Area-weighted EOFs of anomalies ``x`` (T, P) [m], pixel weights ``w`` (P,).

    With ``X~ = X W^(1/2) = U S V~^T`` the EOFs in real space are ``E = X^T U S^-1``
    (``E^T W E = I``); this form stays finite where a pixel weight is 0 (the pole row).
    The eigenproblem is solved on the smaller of the time (T x T) and pixel (P x P) Gram
    matrices, accumulated in float64 over pixel blocks of ``block``.

    Returns
    -------
    eofs : numpy.ndarray
        ``(k, P)`` float64 [dimensionless, orthonormal under W].
    variance : numpy.ndarray
        ``(k,)`` area-weighted variance of each EOF's time series [m^2].
    total : float
        Total area-weighted variance of ``x`` [m^2].
    """
    n_t, n_p = x.shape
    sw = np.sqrt(w)
    if n_t <= n_p:
        gram = np.zeros((n_t, n_t))
        for b in _blocks(n_p, block):
            xb = np.asarray(x[:, b], dtype=np.float64) * sw[b]
            gram += xb @ xb.T
        lam, vec = np.linalg.eigh(gram)
    else:
        cov = np.zeros((n_p, n_p))
        for b in _blocks(n_t, block):
            xb = np.asarray(x[b], dtype=np.float64) * sw
            cov += xb.T @ xb
        lam, vpix = np.linalg.eigh(cov)
    order = np.argsort(lam)[::-1]
    lam = np.clip(lam[order], 0.0, None)
    total = float(lam.sum())
    if total <= 0.0:
        return np.zeros((0, n_p)), np.zeros(0), 0.0
    rank = int(np.count_nonzero(lam > lam[0] * 1e-10))
    k = int(np.searchsorted(np.cumsum(lam) / total, variance_fraction * (1 - 1e-12)) + 1)
    k = max(0, min(k, int(n_eofs), rank))
    lam = lam[:k]
    if n_t <= n_p:
        u = vec[:, order[:k]] / np.sqrt(lam)  # U S^-1, (T, k)
    else:
        v = vpix[:, order[:k]]  # (P, k): U S = X~ V
        u = np.zeros((n_t, k))
        for b in _blocks(n_t, block):
            u[b] = (np.asarray(x[b], dtype=np.float64) * sw) @ v
        u /= lam
    eofs = np.empty((k, n_p))
    for b in _blocks(n_p, block):
        eofs[:, b] = u.T @ np.asarray(x[:, b], dtype=np.float64)
    return eofs, lam / n_t, total / n_t


def eof_statistics(dataset_h5, years=None, n_eofs=10, variance_fraction=0.99, chunk=16):
    """EOFs of every component over the training years, for the :func:`pca` baseline.

    Each year's targets are mapped back to the ``numt`` windows of the year (inverse
    sampling, random mixing undone, time resampled from ``dim`` steps back to ``numt``, as
    :func:`~gravsep.evaluation.evaluate.read_cube` does for the evaluation), so the EOFs are
    learned on the same kind of field the baseline is applied to. All training windows of all
    components are held in memory: ``C * sum(numt) * lat * lon * 4`` bytes (about 1.6 GB for three
    components, ten years of weekly windows and a 512 x 512 grid).

    Per component the time mean of every pixel is removed and the area-weighted EOFs are
    computed (:func:`_leading_eofs`); the leading ones are kept until they explain
    ``variance_fraction`` of the variance, at most ``n_eofs`` and no more than the data's
    rank.

    Parameters
    ----------
    dataset_h5 : path-like
        Dataset file (path or open :class:`gravsep.formats.samples.Samples`).
    years : iterable of int, optional
        Years to use; default the file's ``train_years``.
    n_eofs : int
        Most EOFs kept per component.
    variance_fraction : float
        Fraction of each component's variance the kept EOFs should explain.
    chunk : int
        Samples read at a time.

    Returns
    -------
    dict
        ``eof_mean`` (C, lat, lon) float32 training mean [m];
        ``eofs`` list of C arrays ``(k_c, lat, lon)`` float64 (orthonormal under the pixel
        area weights, dimensionless);
        ``eof_variance`` list of C arrays ``(k_c,)`` area-weighted variance of each EOF's
        time series [m^2]; ``eof_explained`` (C,) fraction of the variance the kept EOFs
        explain; ``eof_lat`` (lat,) [degrees]; ``eof_windows`` number of training windows.
    """
    with opened(dataset_h5) as s:
        components, lat = s.components, s.lat
        years = s.split_years("train") if years is None else years
        parts = []
        for year in years:
            cube = s.cube(year, "target", chunk)  # (C, lat, lon, t)
            numt = cube.shape[-1]
            parts.append(np.moveaxis(cube, -1, 1).reshape(cube.shape[0], numt, -1))
            del cube
    if not parts:
        raise ValueError(f"no training years in {dataset_h5}")
    n_lat, n_lon = len(lat), parts[0].shape[-1] // len(lat)
    w = _pixel_weights(lat, n_lon)
    means, eofs, variances, explained = [], [], [], []
    for c in range(len(components)):
        x = np.concatenate([p[c] for p in parts])  # (T, P) float32
        mu = x.mean(axis=0, dtype=np.float64)
        x -= mu.astype(np.float32)
        e, var, total = _leading_eofs(x, w, n_eofs, variance_fraction)
        del x
        means.append(mu.reshape(n_lat, n_lon))
        eofs.append(e.reshape(-1, n_lat, n_lon))
        variances.append(var)
        explained.append(float(var.sum() / total) if total > 0 else 1.0)
    return {
        "eof_mean": np.asarray(means, dtype=np.float32),
        "eofs": eofs,
        "eof_variance": variances,
        "eof_explained": np.asarray(explained),
        "eof_lat": np.asarray(lat, dtype=np.float64),
        "eof_windows": int(sum(p.shape[1] for p in parts)),
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


#: Relative singular-value cut-off of the stacked-EOF least squares of :func:`pca`.
PCA_RCOND = 1e-6


def pca(input_cube, stats, regularise=True):
    """Separate the input by least squares on the components' stacked EOFs.

    With ``E = [E_1 ... E_C]`` the stacked EOFs (pixels x sum k_c) and ``W`` the pixel area
    weights, the coefficients of every time step minimise ``|W^(1/2) (x - sum_c mu_c - E a)|``
    (minimum-norm where the stacked EOFs are linearly dependent: singular values below
    :data:`PCA_RCOND` times the largest count as zero, so that nearly shared patterns are split
    evenly rather than with large opposite coefficients); ``pred_c = mu_c + E_c a_c``.

    With ``regularise`` (the default) the least-squares problem gets the Tikhonov term
    ``noise * sum_j a_j^2 / lambda_j``, where ``lambda_j`` is the training variance of EOF
    coefficient j and ``noise`` the training variance the kept EOFs leave unexplained (the
    optimal-interpolation estimate). Plain least squares hands a small component whose EOFs
    resemble a large one's big, opposite-signed parts (relative errors far above 1).

    Parameters
    ----------
    input_cube : array_like
        ``(lat, lon, t)`` summed signal [m], on the grid of the training statistics.
    stats : dict
        Training statistics with the keys of :func:`eof_statistics`
        (``training_statistics(..., eofs=True)``).

    Returns
    -------
    numpy.ndarray
        ``(comp, lat, lon, t)`` [m], float32.
    """
    if "eofs" not in stats:
        raise KeyError("the pca baseline needs EOFs: training_statistics(..., eofs=True)")
    x = np.asarray(input_cube)
    n_lat, n_lon, n_t = x.shape
    mean = np.asarray(stats["eof_mean"], dtype=np.float64)
    n_comp = mean.shape[0]
    if mean.shape[1:] != (n_lat, n_lon):
        raise ValueError(f"EOFs are on a {mean.shape[1:]} grid, the input on {(n_lat, n_lon)}")
    w = _pixel_weights(stats.get("eof_lat", _default_lat(n_lat)), n_lon)
    sw = np.sqrt(w)[:, None]
    basis = [
        np.asarray(e, dtype=np.float64).reshape(len(e), n_lat * n_lon).T for e in stats["eofs"]
    ]
    sizes = [b.shape[1] for b in basis]
    anomaly = x.reshape(-1, n_t).astype(np.float64) - mean.sum(axis=0).reshape(-1, 1)
    out = np.empty((n_comp, n_lat * n_lon, n_t), dtype=np.float32)
    out[:] = mean.reshape(n_comp, -1, 1)
    if sum(sizes):
        stacked = np.concatenate(basis, axis=1)
        if regularise and "eof_variance" in stats:
            # Tikhonov (optimal-interpolation) form: the EOF coefficients have the training
            # variances lambda_j as prior, the variance no kept EOF explains is the noise.
            lam = np.concatenate([np.asarray(v, dtype=np.float64) for v in stats["eof_variance"]])
            explained = np.asarray(stats["eof_explained"], dtype=np.float64)
            kept = np.array([np.sum(v) for v in stats["eof_variance"]])
            unexplained = kept * (1.0 / np.clip(explained, 1e-12, None) - 1.0)
            noise = max(float(unexplained.sum()), 1e-6 * float(kept.sum()), 1e-30)
            normal = stacked.T @ (w[:, None] * stacked)
            normal[np.diag_indices_from(normal)] += noise / np.clip(lam, 1e-30, None)
            coef = np.linalg.solve(normal, stacked.T @ (w[:, None] * anomaly))
        else:
            coef = np.linalg.lstsq(sw * stacked, sw * anomaly, rcond=PCA_RCOND)[0]
        start = 0
        for c, (b, k) in enumerate(zip(basis, sizes, strict=True)):
            out[c] += (b @ coef[start : start + k]).astype(np.float32)
            start += k
    return out.reshape(n_comp, n_lat, n_lon, n_t)


def _default_lat(n_lat):
    return 90.0 - 180.0 / n_lat * np.arange(n_lat)


#: Baseline name -> function(input cube (lat, lon, t), training statistics) -> prediction.
BASELINES = {"zero": zero, "proportional": proportional, "pca": pca, "regression": regression}
