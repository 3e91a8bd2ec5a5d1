"""How far to trust a spread: calibration of probabilistic predictions on lat-lon-t cubes.

A prediction is Gaussian per component, pixel and window: mean ``mu`` and standard deviation
``sigma`` (an ensemble's mean and spread, :mod:`gravsep.network.ensemble`). Measured against
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
``s = RMS(y - mu) / RMS(sigma)``, applied to ``sigma`` of the test year (a switch).
"""

import math

import numpy as np
from scipy.special import ndtr, ndtri

#: Nominal probabilities of the reliability diagram.
NOMINAL = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.68, 0.7, 0.8, 0.9, 0.95, 0.99)


def pixel_weights(lat, shape):
    """cos(lat) weights broadcast to ``shape`` (..., lat, lon, t), normalised to mean 1."""
    w = np.clip(np.cos(np.deg2rad(np.asarray(lat, dtype=float))), 0.0, None)
    w = np.broadcast_to(w[:, None, None], shape[-3:])
    return np.broadcast_to(w / w.mean(), shape)


def _mean(values, w):
    return float(np.sum(values * w) / np.sum(w))


def spread_skill(mu, sigma, y, lat):
    """RMS of the spread over RMS of the error of the mean (dimensionless)."""
    w = pixel_weights(lat, np.shape(y))
    err = np.sqrt(_mean((np.asarray(y, float) - mu) ** 2, w))
    spread = np.sqrt(_mean(np.asarray(sigma, float) ** 2, w))
    return spread / err if err > 0 else (math.inf if spread > 0 else 1.0)


def coverage(mu, sigma, y, lat, p):
    """Area-weighted fraction of values inside the central interval of probability ``p``."""
    z = ndtri(0.5 * (1.0 + p))
    inside = np.abs(np.asarray(y, float) - mu) <= z * np.asarray(sigma, float)
    return _mean(inside, pixel_weights(lat, np.shape(y)))


def crps_gaussian(mu, sigma, y):
    """CRPS of Gaussian predictions, elementwise (the unit of the data)."""
    mu, sigma, y = (np.asarray(a, dtype=float) for a in (mu, sigma, y))
    out = np.abs(y - mu)
    pos = sigma > 0
    z = (y[pos] - mu[pos]) / sigma[pos]
    phi = np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    out[pos] = sigma[pos] * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * phi - 1.0 / np.sqrt(np.pi))
    return out


def crps(mu, sigma, y, lat):
    """Area-weighted mean CRPS (the unit of the data)."""
    mu, sigma, y = np.broadcast_arrays(mu, sigma, y)
    return _mean(crps_gaussian(mu, sigma, y), pixel_weights(lat, np.shape(y)))


def variance_scale(mu, sigma, y, lat):
    """Factor on ``sigma`` that makes the spread-skill ratio 1 (1 for a zero spread)."""
    ratio = spread_skill(mu, sigma, y, lat)
    return 1.0 / ratio if 0 < ratio < math.inf else 1.0


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
