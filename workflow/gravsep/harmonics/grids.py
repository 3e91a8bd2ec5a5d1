"""Driscoll-Healy grids: definition, synthesis and analysis, area weights.

Synthesis and analysis use pyshtools (``MakeGridDH`` / ``SHExpandDH``, sampling 1).
"""

import numpy as np


def grid_size(nmax):
    """Smallest power of two ``dim >= 2*nmax + 2`` (512 for degree 180, 64 for 31)."""
    need = 2 * int(nmax) + 2
    return 1 << (need - 1).bit_length()


def lat_lon(dim):
    """Latitudes and longitudes of a ``dim x dim`` DH grid [degrees].

    Returns
    -------
    lat : numpy.ndarray
        ``90 - 180/dim * i``, i = 0..dim-1 (north pole first, south pole excluded).
    lon : numpy.ndarray
        ``360/dim * j``, j = 0..dim-1, degrees east.
    """
    i = np.arange(dim)
    return 90.0 - 180.0 / dim * i, 360.0 / dim * i


def area_weights(lat):
    """Relative area of grid rows at latitudes ``lat`` [degrees]: cos(lat), summing to 1."""
    w = np.cos(np.deg2rad(np.asarray(lat, dtype=float)))
    w = np.clip(w, 0.0, None)
    return w / w.sum()


def pad(cs, nmax):
    """Zero-pad (or truncate) coefficients ``(..., 2, N+1, N+1)`` to degree ``nmax``."""
    cs = np.asarray(cs)
    out = np.zeros(cs.shape[:-2] + (nmax + 1, nmax + 1), dtype=cs.dtype)
    k = min(nmax, cs.shape[-1] - 1) + 1
    out[..., :k, :k] = cs[..., :k, :k]
    return out


def synthesize(cs, dim):
    """Grid values of coefficients ``(..., 2, N+1, N+1)`` on a ``dim x dim`` DH grid.

    The grid is that of degree ``(dim-2)/2`` (exactly ``dim x dim`` points); the sums run only
    to the coefficients' degree N (``lmax_calc``: half the work at degree 180 on 512x512, equal
    to zero-padded synthesis to rounding), and coefficients above ``(dim-2)/2`` are dropped.
    Units are those of the coefficients (EWH coefficients give metres).

    Returns
    -------
    numpy.ndarray
        ``(..., dim, dim)``.
    """
    import pyshtools

    cs = np.asarray(cs, dtype=np.float64)
    lmax = (dim - 2) // 2
    if cs.shape[-1] - 1 > lmax:
        cs = pad(cs, lmax)
    nmax = cs.shape[-1] - 1
    flat = cs.reshape((-1, 2, nmax + 1, nmax + 1))
    out = np.empty((flat.shape[0], dim, dim))
    for k, cilm in enumerate(flat):
        out[k] = pyshtools.expand.MakeGridDH(cilm, sampling=1, lmax=lmax, lmax_calc=nmax)
    return out.reshape(cs.shape[:-3] + (dim, dim))


def analyze(grid, lmax=None):
    """Coefficients of grid values ``(..., dim, dim)`` (DH sampling 1) up to ``lmax``.

    Returns
    -------
    numpy.ndarray
        ``(..., 2, lmax+1, lmax+1)``; default lmax ``dim/2 - 1``.
    """
    import pyshtools

    grid = np.asarray(grid, dtype=np.float64)
    dim = grid.shape[-1]
    lmax_full = dim // 2 - 1
    lmax = lmax_full if lmax is None else int(lmax)
    flat = grid.reshape((-1, dim, dim))
    out = np.zeros((flat.shape[0], 2, lmax + 1, lmax + 1))
    k = min(lmax, lmax_full) + 1
    for i, g in enumerate(flat):
        out[i, :, :k, :k] = pyshtools.expand.SHExpandDH(g, sampling=1, lmax_calc=k - 1)
    return out.reshape(grid.shape[:-2] + (2, lmax + 1, lmax + 1))


def degree_amplitudes(cs):
    """Degree amplitudes: root of the sum over orders of C_nm^2 + S_nm^2, per degree.

    Parameters
    ----------
    cs : array_like
        ``(..., 2, N+1, N+1)``.

    Returns
    -------
    numpy.ndarray
        ``(..., N+1)`` in the units of the coefficients.
    """
    cs = np.asarray(cs)
    return np.sqrt((cs**2).sum(axis=(-3, -1)))


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
