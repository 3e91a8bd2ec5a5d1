"""The ``regression`` baseline: a linear map from the summed field to every component.

Every component is predicted as a linear function of the whole input map,
``pred_c(t) = ybar_c + W_c (x(t) - xbar)``, with ``W_c`` the ridge-regression (Tikhonov)
solution over the training years' windows and its regularisation chosen per component on the
validation years. It is what a linear statistician would fit first, and it is a hard baseline
wherever the field is a sum of a limited number of fixed spatial patterns with varying
amplitudes (the embedded synthetic model is exactly that: ``cs(t) = sum_k a_k(t) P_k``,
docs/synthetic-model.md): it separates whatever patterns the training years excite, and knows
nothing of a pattern they do not hold (an earthquake of a later year).

Method
------
Features are the pixel values scaled by the square root of the pixel area weights, so that
inner products are area integrals; ``X`` (N windows x P pixels) are the centred training
features, ``Y_c`` the centred training targets. In the dual (kernel) form, which needs only the
N x N Gram matrix ``K = X X^T`` (N is far below P),

    W_c x = x^T X^T (K + lambda_c I)^-1 Y_c,        lambda_c = alpha_c trace(K) / N,

identical to the primal ``(X^T X + lambda I)^-1 X^T Y``. ``alpha_c`` is the value of
:data:`ALPHAS` with the smallest area-weighted relative RMS error on the validation years;
where every value leaves that error at or above 1 (the map then does worse than predicting
the training mean), the component is predicted as its training mean (``alpha_c = inf``).
Without validation years :data:`DEFAULT_ALPHA` is used.

With ``ramp=True`` the fit has one more regressor, the window's year ramp ``r = 2 f - 1`` (``f``
its fraction of the year; position channel ``year_ramp`` of :mod:`gravsep.network.features`),
unpenalised like the mean: ``pred_c = ybar_c + (r - rbar) b_c + W_c x'`` with
``x' = x - xbar - (r - rbar) b_x``, where ``b_x`` and ``b_c`` are the least-squares slopes of
the centred training inputs and targets on the ramp and ``W_c`` the ridge map between what the
ramp leaves of each (Frisch-Waugh). With each year's mean removed, a secular trend (glacial
isostatic adjustment, a steady ice loss) is a fixed pattern times ``r`` in every year, which no
map of the summed field can tell from the other trends in it. ``alpha_c = inf`` then keeps the
ramp term alone; the training mean is predicted where that too is no better than the mean on
the validation years.

Memory: the training windows' features and the coefficients, ``(C + 1) N P`` float32 (about
2.7 GB for four components, ten years of weekly windows and a 512 x 512 grid), like the EOFs
of :func:`gravsep.evaluation.baselines.eof_statistics`.
"""

import numpy as np

from gravsep.formats.samples import opened
from gravsep.harmonics.grids import area_weights
from gravsep.network.features import year_fraction, year_ramp

#: Relative regularisations ``alpha = lambda N / trace(K)`` tried on the validation years.
ALPHAS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
#: Regularisation used when the dataset has no validation years.
DEFAULT_ALPHA = 1e-3


def pixel_weights(lat, n_lon):
    """Area weight of every pixel of a ``(lat, lon)`` grid, flattened, summing to 1."""
    return np.repeat(area_weights(lat) / n_lon, n_lon)


def _windows(samples, years, kind):
    """``(N, P)`` input or ``(C, N, P)`` target windows of ``years``, float32."""
    parts = []
    for year in years:
        cube = samples.cube(year, kind)  # (lat, lon, t) or (C, lat, lon, t)
        parts.append(np.moveaxis(cube, -1, -3).reshape(cube.shape[:-3] + (cube.shape[-1], -1)))
    return np.concatenate(parts, axis=-2).astype(np.float32)


def _ramps(samples, years):
    """``(N,)`` year ramp of every window of ``years``, in the order of :func:`_windows`."""
    return np.concatenate([year_ramp(year_fraction(samples.time(y), y)) for y in years])


def _relative(pred, truth, w):
    """Area-weighted relative RMS of ``(N, P)`` windows, pixel weights ``w`` (P,)."""
    den = float((truth.astype(np.float64) ** 2 @ w).sum())
    num = float(((pred.astype(np.float64) - truth) ** 2 @ w).sum())
    return np.sqrt(num / den) if den > 0 else np.nan


def _remove_ramp(x, y, r, source):
    """Remove from the centred windows ``x`` (N, P) and targets ``y`` (C, N, P), in place,
    their least-squares slopes on the centred ramp ``r`` (N,); return the ``reg_ramp_*``."""
    r_mean = float(r.mean())
    rc = r - r_mean
    rr = float(rc @ rc)
    if rr <= 0:
        raise ValueError(f"{source}: the training windows span no time of the year")
    b_x = (rc @ x.astype(np.float64)) / rr  # (P,)
    b_y = np.einsum("n,cnp->cp", rc, y.astype(np.float64)) / rr  # (C, P)
    x -= (rc[:, None] * b_x[None, :]).astype(np.float32)
    y -= (rc[None, :, None] * b_y[:, None, :]).astype(np.float32)
    return {"reg_ramp_mean": r_mean, "reg_ramp_x": b_x, "reg_ramp_y": b_y}


def _residual_features(x, stats, ramp):
    """What the ramp leaves of the maps ``x`` (N, P) [m] about the training mean, times the
    square root of the pixel weights: the features the ridge map reads, float64."""
    f = x.astype(np.float64) - stats["reg_x_mean"]
    if "reg_ramp_x" in stats:
        rc = np.asarray(ramp, dtype=np.float64).reshape(len(f)) - stats["reg_ramp_mean"]
        f -= rc[:, None] * stats["reg_ramp_x"][None, :]
    return f * np.sqrt(pixel_weights(stats["reg_lat"], stats["reg_shape"][1]))


def _mean_term(stats, ramp, n):
    """``(C, n, P)`` the training mean of every component plus its ramp term [m]."""
    base = np.broadcast_to(stats["reg_y_mean"][:, None, :],
                           (len(stats["reg_y_mean"]), n, stats["reg_y_mean"].shape[1]))  # fmt: skip
    if "reg_ramp_y" not in stats:
        return base
    rc = np.asarray(ramp, dtype=np.float64).reshape(n) - stats["reg_ramp_mean"]
    return base + rc[None, :, None] * stats["reg_ramp_y"][:, None, :]


def regression_statistics(dataset_h5, years=None, validation_years=None, alphas=ALPHAS, *,
                          ramp=False):  # fmt: skip
    """Fit the ridge map on the training years and choose its regularisation per component.

    Parameters
    ----------
    dataset_h5 : path-like
        Dataset file (path or open :class:`gravsep.formats.samples.Samples`).
    years, validation_years : iterable of int, optional
        Fit and selection years; default the file's train and validation years.
    alphas : sequence of float
        Relative regularisations tried (:data:`ALPHAS`).
    ramp : bool
        Also fit the unpenalised year-ramp term (module docstring).

    Returns
    -------
    dict
        ``reg_features`` (N, P) float32 centred training features [m * sqrt(weight)],
        ``reg_x_mean`` (P,) [m], ``reg_y_mean`` (C, P) [m], ``reg_coef`` (C, N, P) float32
        ``(K + lambda_c I)^-1 Y_c`` (zero where the mean is used) [m],
        ``reg_alpha`` (C,) chosen alphas (``inf``: no map, the mean and any ramp term),
        ``reg_validation`` (C, len(alphas) + ramp) validation errors, the last column the ramp
        term alone (NaN without validation years), ``reg_lat`` (lat,) [degrees],
        ``reg_shape`` (lat, lon); with ``ramp``: ``reg_ramp_mean`` (float, rbar),
        ``reg_ramp_x`` (P,) [m] and ``reg_ramp_y`` (C, P) [m] (zero where the mean alone is
        predicted) the slopes on the ramp.
    """
    with opened(dataset_h5) as s:
        years = s.split_years("train") if years is None else list(years)
        val_years = s.split_years("validation") if validation_years is None else validation_years
        if not years:
            raise ValueError(f"no training years in {dataset_h5}")
        lat, shape = np.asarray(s.lat, dtype=np.float64), (len(s.lat), len(s.lon))
        x, y = _windows(s, years, "input"), _windows(s, years, "target")
        r = _ramps(s, years) if ramp else None
        val = None
        if list(val_years):
            val = (_windows(s, val_years, "input"), _windows(s, val_years, "target"),
                   _ramps(s, val_years) if ramp else None)  # fmt: skip
    w = pixel_weights(lat, shape[1])
    sw = np.sqrt(w).astype(np.float32)
    x_mean = x.mean(axis=0, dtype=np.float64)
    y_mean = y.mean(axis=1, dtype=np.float64)
    x -= x_mean.astype(np.float32)
    y -= y_mean.astype(np.float32)[:, None, :]
    n_comp = y.shape[0]
    extra = _remove_ramp(x, y, r, dataset_h5) if ramp else {}
    feats = x * sw
    del x
    gram = feats.astype(np.float64) @ feats.T.astype(np.float64)
    evals, evecs = np.linalg.eigh(gram)
    evals = np.clip(evals, 0.0, None)
    scale = max(float(np.trace(gram)) / len(gram), 1e-300)
    candidates = list(alphas) + ([np.inf] if ramp else [])
    errors = np.full((n_comp, len(candidates)), np.nan)
    if val is not None:
        xv, yv, rv = val
        fit = {"reg_x_mean": x_mean, "reg_y_mean": y_mean, "reg_lat": lat, "reg_shape": shape,
               **extra}  # fmt: skip
        base = _mean_term(fit, rv, len(xv))
        kv = (_residual_features(xv, fit, rv) @ feats.T.astype(np.float64)) @ evecs
        del xv
        for j, alpha in enumerate(candidates):
            filt = 1.0 / (evals + alpha * scale)
            for c in range(n_comp):
                pred = base[c] + ((kv * filt) @ (evecs.T @ y[c].astype(np.float64)) if
                                  np.isfinite(alpha) else 0.0)  # fmt: skip
                errors[c, j] = _relative(pred, yv[c], w)
        best = np.nanargmin(np.where(np.isfinite(errors), errors, np.inf), axis=1)
        chosen = np.array([candidates[b] for b in best], dtype=np.float64)
        useless = np.array([errors[c, b] >= 1.0 for c, b in enumerate(best)])
    else:
        chosen = np.full(n_comp, float(DEFAULT_ALPHA))
        useless = np.zeros(n_comp, dtype=bool)
    chosen[useless] = np.inf
    if ramp:
        extra["reg_ramp_y"][useless] = 0.0
    coef = np.zeros_like(y)
    for c in range(n_comp):
        if np.isfinite(chosen[c]):
            filt = 1.0 / (evals + chosen[c] * scale)
            coef[c] = (evecs * filt) @ (evecs.T @ y[c].astype(np.float64))
    return {
        "reg_features": feats,
        "reg_x_mean": x_mean,
        "reg_y_mean": y_mean,
        "reg_coef": coef,
        "reg_alpha": chosen,
        "reg_validation": errors,
        "reg_lat": lat,
        "reg_shape": shape,
        **extra,
    }


def regression(input_cube, stats, ramp=None):
    """Predict every component by the ridge map of :func:`regression_statistics`.

    Parameters
    ----------
    input_cube : array_like
        ``(lat, lon, t)`` summed signal [m], on the grid of the fit.
    stats : dict
        With the ``reg_*`` keys of :func:`regression_statistics`
        (``training_statistics(..., regression=True)``).
    ramp : array_like, optional
        ``(t,)`` year ramp of the maps (:func:`gravsep.network.features.year_ramp`); needed
        by a fit with ``ramp=True``.

    Returns
    -------
    numpy.ndarray
        ``(comp, lat, lon, t)`` [m], float32.
    """
    if "reg_coef" not in stats:
        raise KeyError("the regression baseline needs its fit: "
                       "training_statistics(..., regression=True)")  # fmt: skip
    x = np.asarray(input_cube)
    n_lat, n_lon, n_t = x.shape
    if tuple(stats["reg_shape"]) != (n_lat, n_lon):
        raise ValueError(f"the regression was fitted on a {tuple(stats['reg_shape'])} grid, "
                         f"the input is on {(n_lat, n_lon)}")  # fmt: skip
    with_ramp = "reg_ramp_x" in stats
    if with_ramp and ramp is None:
        raise ValueError("this regression was fitted with the year ramp: pass the maps' ramp")
    f = _residual_features(x.reshape(-1, n_t).T, stats, ramp)  # (t, P)
    k = f @ stats["reg_features"].T.astype(np.float64)  # (t, N)
    coef, base = stats["reg_coef"], _mean_term(stats, ramp, n_t)
    out = np.empty((coef.shape[0], n_t, n_lat * n_lon), dtype=np.float32)
    for c in range(coef.shape[0]):
        out[c] = k @ coef[c] + base[c]
    return np.moveaxis(out.reshape(coef.shape[0], n_t, n_lat, n_lon), 1, -1)
