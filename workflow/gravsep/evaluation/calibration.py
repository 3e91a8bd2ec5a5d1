"""How far to trust a spread: calibration of probabilistic predictions on lat-lon-t cubes.

A prediction is Gaussian per component, pixel and window: mean ``mu`` and standard deviation
``sigma`` (an ensemble's mean and spread, :mod:`gravsep.ensemble`), arrays whose last three
axes are ``(lat, lon, t)``. Measured against
the truth ``y``, area-weighted (cos latitude) over the grid and the windows:

spread-skill ratio
    RMS of ``sigma`` over RMS of ``y - mu``; 1 for a calibrated spread, below 1 over-confident.
coverage
    Fraction of values inside the central interval of probability p,
    ``|y - mu| <= z_p sigma`` with ``z_p`` the standard normal quantile of ``(1 + p) / 2``.
CRPS
    Continuous ranked probability score of the Gaussian (Gneiting & Raftery 2007, eq. 21):
    ``sigma (z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi))``, ``z = (y - mu) / sigma``, in the
    unit of the data; ``|y - mu|`` where ``sigma = 0``. Lower is better.

Variance scaling: the factor ``s`` that makes the spread-skill ratio 1 on the validation year,
``s = RMS(y - mu) / RMS(sigma)``, applied to ``sigma`` of the test year (the switch
``evaluation.calibration.variance_scaling``; :mod:`gravsep.evaluation.calibrate` runs it).

With a floor (``evaluation.calibration.floor``, :func:`fit_spread`) the calibrated spread is
``sqrt((a sigma)^2 + b^2)``: a factor ``a`` and a constant ``b`` [unit of the data], fitted on
the validation year so that its spread-skill ratio is 1 and its central 95 % interval covers
95 %. One factor can match the RMS of the error but not its tails where the members agree and
are wrong (their spread is small, the error is not: an event the training years did not show);
the floor is a minimum spread everywhere, and the factor shrinks to keep the RMS. Two equations,
two unknowns: for each ``b`` on a grid of :data:`FLOOR_STEPS` steps from 0 to the RMS error,
``a`` follows from the spread-skill ratio, ``a^2 = (RMS(y - mu)^2 - b^2) / RMS(sigma)^2``, and
the smallest ``b`` at which the 95 % coverage reaches 0.95, from below or above, is taken (the
nearer grid point of the crossing; the coverage need not be monotone in ``b``, and of the
floors that calibrate, the smallest keeps most of the members' spread); where it never reaches
0.95, the ``b`` of the nearest coverage. That can be the largest floor with factor 0, a uniform
spread: where the scaled spread over-covers at every floor and coverage falls with the floor
(I of the embedded default), the members' spread pattern is then given up for the coverage.
"""

import math

import numpy as np
from scipy.special import ndtr, ndtri

from gravsep.harmonics.grids import area_weights

#: Grid of the floor fit: steps of RMS error / FLOOR_STEPS from 0 to the RMS error.
FLOOR_STEPS = 100

#: Nominal probabilities of the reliability diagram.
NOMINAL = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.68, 0.7, 0.8, 0.9, 0.95, 0.99)


def pixel_weights(lat, shape):
    """Relative row areas (:func:`~gravsep.harmonics.grids.area_weights`, cos latitude)
    broadcast to ``shape`` ``(..., lat, lon, t)``."""
    w = area_weights(lat)
    if w.shape != (shape[-3],):
        raise ValueError(f"{w.shape[0]} latitudes for a cube with {shape[-3]} rows")
    return np.broadcast_to(w[:, None, None], shape)


def _mean(values, w):
    return float(np.sum(np.asarray(values, dtype=np.float64) * w) / np.sum(w))


def spread_skill(mu, sigma, y, lat):
    """RMS of the spread over RMS of the error of the mean (dimensionless)."""
    mu, sigma, y = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (mu, sigma, y)))
    w = pixel_weights(lat, y.shape)
    err = np.sqrt(_mean((y - mu) ** 2, w))
    spread = np.sqrt(_mean(sigma**2, w))
    return spread / err if err > 0 else (math.inf if spread > 0 else 1.0)


def coverage(mu, sigma, y, lat, p):
    """Area-weighted fraction of values inside the central interval of probability ``p``."""
    z = ndtri(0.5 * (1.0 + p))
    inside = np.abs(np.asarray(y, float) - mu) <= z * np.asarray(sigma, float)
    return _mean(inside, pixel_weights(lat, inside.shape))


def crps_gaussian(mu, sigma, y):
    """CRPS of Gaussian predictions, elementwise (the unit of the data)."""
    mu, sigma, y = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (mu, sigma, y)))
    out = np.array(np.abs(y - mu), dtype=float)  # an array also for scalars
    pos = sigma > 0
    z = (y[pos] - mu[pos]) / sigma[pos]
    phi = np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    out[pos] = sigma[pos] * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * phi - 1.0 / np.sqrt(np.pi))
    return out if out.ndim else float(out)


def crps(mu, sigma, y, lat):
    """Area-weighted mean CRPS (the unit of the data)."""
    values = crps_gaussian(mu, sigma, y)
    return _mean(values, pixel_weights(lat, values.shape))


def variance_scale(mu, sigma, y, lat):
    """Factor on ``sigma`` that makes the spread-skill ratio 1 (1 for a zero spread)."""
    ratio = spread_skill(mu, sigma, y, lat)
    return 1.0 / ratio if 0 < ratio < math.inf else 1.0


def calibrated(sigma, scale=1.0, floor=0.0):
    """The calibrated spread ``sqrt((scale sigma)^2 + floor^2)`` (``floor`` in the data's
    unit)."""
    return np.hypot(scale * np.asarray(sigma, dtype=float), floor)


def fit_spread(mu, sigma, y, lat, floor=True):
    """Factor and floor of the calibrated spread, fitted on ``(mu, sigma, y)`` (module docstring).

    Parameters
    ----------
    mu, sigma, y : numpy.ndarray
        Mean, spread and truth, last three axes ``(lat, lon, t)`` [unit of the data].
    lat : numpy.ndarray
        Latitudes of the rows [deg].
    floor : bool
        Fit the floor; without it the floor is 0 and the factor :func:`variance_scale`.

    Returns
    -------
    (float, float)
        ``scale`` (dimensionless) and ``floor`` [unit of the data]; ``(1, 0)`` where the error
        is zero.
    """
    mu, sigma, y = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (mu, sigma, y)))
    for name, a in (("mean", mu), ("spread", sigma), ("truth", y)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"the {name} holds {np.count_nonzero(~np.isfinite(a))} non-finite "
                             "values: no calibration can be fitted")  # fmt: skip
    w = pixel_weights(lat, y.shape)
    mse, msp = _mean((y - mu) ** 2, w), _mean(sigma**2, w)
    if not floor or mse == 0:
        return variance_scale(mu, sigma, y, lat), 0.0
    if msp == 0:  # no spread to scale: the floor alone matches the RMS error
        return 1.0, math.sqrt(mse)
    err, total, z = np.abs(y - mu), float(np.sum(w)), ndtri(0.975)

    def factor(b):
        return math.sqrt(max(mse - b * b, 0.0) / msp)

    def miss(b):  # 95 % coverage (as coverage()) of the pair (factor(b), b), less 0.95
        inside = err <= z * calibrated(sigma, factor(b), b)
        return float(np.sum(inside * w)) / total - 0.95

    floors = math.sqrt(mse) * np.arange(FLOOR_STEPS + 1) / FLOOR_STEPS
    misses = np.array([miss(b) for b in floors])
    crossed = np.flatnonzero(np.sign(misses[1:]) != np.sign(misses[0]))
    if crossed.size:  # the first floor at which the coverage reaches 0.95 (from either side)
        k = int(crossed[0]) + 1
        k = k if abs(misses[k]) < abs(misses[k - 1]) else k - 1
    else:  # never reached: the nearest (the smallest floor of equals)
        k = int(np.argmin(np.abs(misses)))
    b = float(floors[k])
    return (variance_scale(mu, sigma, y, lat) if b == 0 else factor(b)), b


def scores(mu, sigma, y, lat):
    """``spread_skill``, ``coverage_68``, ``coverage_95``, ``crps`` of one component."""
    return {
        "spread_skill": spread_skill(mu, sigma, y, lat),
        "coverage_68": coverage(mu, sigma, y, lat, 0.68),
        "coverage_95": coverage(mu, sigma, y, lat, 0.95),
        "crps": crps(mu, sigma, y, lat),
    }


def reliability(mu, sigma, y, lat, nominal=NOMINAL):
    """Observed coverage at each nominal probability (the reliability diagram's curve)."""
    return np.array([coverage(mu, sigma, y, lat, p) for p in nominal])
