"""Conversion between Stokes coefficients and equivalent water height (EWH).

Wahr et al. (1998), eq. 14: the surface mass change, expressed as a layer of water, has the
coefficients ``EWH_nm = (2n+1) / (1+k'_n) * R * rho_ave / (3 rho_w) * C_nm``.
"""

import numpy as np

from gravsep.constants import LOVE_DEGREES, LOVE_K, R_EARTH, RHO_EARTH, RHO_WATER


def load_love_numbers(nmax):
    """Load Love numbers k'_n for degrees 0..nmax.

    Parameters
    ----------
    nmax : int
        Maximum degree (at most 200, the end of the table).

    Returns
    -------
    numpy.ndarray
        ``(nmax+1,)`` k'_n, linearly interpolated in n from the Wahr et al. (1998) table.
    """
    if nmax > LOVE_DEGREES[-1]:
        raise ValueError(f"load Love numbers are tabulated to degree 200, asked for {nmax}")
    return np.interp(np.arange(nmax + 1, dtype=float), LOVE_DEGREES, LOVE_K)


def ewh_factors(nmax, radius=R_EARTH, rho_earth=RHO_EARTH, rho_water=RHO_WATER):
    """Factors that turn Stokes coefficients into EWH coefficients, per degree.

    Returns
    -------
    numpy.ndarray
        ``(nmax+1,)`` in metres per unit of (dimensionless) Stokes coefficient.
    """
    n = np.arange(nmax + 1, dtype=float)
    k = load_love_numbers(nmax)
    return (2.0 * n + 1.0) / (1.0 + k) * radius * rho_earth / (3.0 * rho_water)


def stokes_to_ewh(cs):
    """Stokes coefficients ``(..., 2, N+1, N+1)`` to EWH coefficients [m]."""
    cs = np.asarray(cs)
    return cs * ewh_factors(cs.shape[-1] - 1)[:, None]


def ewh_to_stokes(ewh):
    """EWH coefficients [m] ``(..., 2, N+1, N+1)`` to dimensionless Stokes coefficients."""
    ewh = np.asarray(ewh)
    return ewh / ewh_factors(ewh.shape[-1] - 1)[:, None]
