"""Gaussian smoothing in the spherical-harmonic domain.

Jekeli (1981), as written by Wahr et al. (1998), eq. 32-34.
"""

import numpy as np

from gravsep.constants import R_EARTH


def half_width_km(nmax_flt):
    """Half-width radius [km] that corresponds to a filter degree: ``20000 / nmax_flt / 2``."""
    return 20000.0 / nmax_flt / 2.0


def gaussian_weights(nmax, radius_km, earth_radius_km=R_EARTH / 1000.0):
    """Degree weights W_n of a Gaussian averaging kernel.

    Parameters
    ----------
    nmax : int
        Maximum degree.
    radius_km : float
        Half-width radius of the kernel [km] (the distance at which it drops to half).
    earth_radius_km : float
        Radius of the sphere [km].

    Returns
    -------
    numpy.ndarray
        ``(nmax+1,)`` weights, ``W_0 = 1``. They are normalised so that a constant field stays
        constant (Wahr et al. 1998 include a factor 2 pi that cancels in this convention).
        The upward recursion is unstable for large ``b``: from the first degree where the
        weight rises or turns negative, it is set to zero.
    """
    b = np.log(2.0) / (1.0 - np.cos(radius_km / earth_radius_km))
    w = np.zeros(nmax + 1)
    w[0] = 1.0
    if nmax >= 1:
        w[1] = (1.0 + np.exp(-2.0 * b)) / (1.0 - np.exp(-2.0 * b)) - 1.0 / b
    for n in range(2, nmax + 1):
        w[n] = -(2.0 * n - 1.0) / b * w[n - 1] + w[n - 2]
    bad = np.flatnonzero((np.diff(w) > 0) | (w[1:] < 0))
    if bad.size:
        w[bad[0] + 1 :] = 0.0
    return w


def apply_weights(cs, weights):
    """Multiply coefficients ``(..., 2, N+1, N+1)`` by degree weights ``(N+1,)``."""
    cs = np.asarray(cs)
    return cs * np.asarray(weights)[: cs.shape[-1], None]
