"""Destriping: removal of errors correlated along same-order, same-parity degrees.

Swenson & Wahr (2006), Geophys. Res. Lett. 33, L08402, in the variant of gravity-toolkit's
``destripe_harmonics`` (after I. Velicogna's ``remove_errors``): for every order m >= ``mmin``
and each parity of degree, the coefficients along n = m+p, m+p+2, ... are smoothed by a
quadratic polynomial fitted over a moving window of ``2 h + 1`` of them, with the half-width
``h = max(round(15 exp(-m/10)), 2)``; the smoothed values (the correlated part) are removed.
At both ends of a chain the fit of the first (last) full window is used. A chain shorter than
its window is left as it is.

Why not gravity-toolkit itself: it gives the same numbers in that mode (``NARROW=True``; the
tests compare them to machine precision), but its default mode (``NARROW=False``) sets the
coefficients of every chain shorter than its window to zero, although its docstring says they
pass unaltered (at degree 31 that removes most orders m >= 5), it loops in Python over every
coefficient (seconds per field at degree 180), and it would bring boto3, lxml and netCDF4 into
the CPU image. Here each chain is one small matrix product.
"""

import functools

import numpy as np


def half_width(m):
    """Half-width ``h`` of the smoothing window of order m (window ``2h + 1`` coefficients)."""
    return max(int(np.around(15.0 * np.exp(-float(m) / 10.0))), 2)


@functools.lru_cache(maxsize=4096)
def _smoother(length, h):
    """``(length, length)`` matrix of the moving quadratic fit (ends: the end windows' fits)."""
    width = 2 * h + 1
    x = np.arange(-h, h + 1, dtype=float)
    design = np.stack([np.ones_like(x), x, x * x], axis=1)  # (width, 3)
    fit = np.linalg.pinv(design)  # (3, width): coefficients from a window's values
    s = np.zeros((length, length))
    for centre in range(h, length - h):
        s[centre, centre - h : centre + h + 1] = fit[0]
    for offset in range(-h, 0):  # first points: the first window's polynomial
        s[h + offset, 0:width] = np.array([1.0, offset, offset * offset]) @ fit
    last = length - 1 - h
    for offset in range(1, h + 1):
        s[last + offset, last - h : last + h + 1] = np.array([1.0, offset, offset * offset]) @ fit
    return s


def destripe(cs, mmin=5, nmin=2):
    """Destriped coefficients ``(..., 2, N+1, N+1)`` (any linear units).

    Parameters
    ----------
    cs : numpy.ndarray
        Coefficients (``[..., 0]`` C, ``[..., 1]`` S), degree on the second-last axis.
    mmin : int
        Lowest order filtered (5 in Swenson & Wahr 2006).
    nmin : int
        Lowest degree of the chains.

    Returns
    -------
    numpy.ndarray
        Same shape; orders below ``mmin`` unchanged.
    """
    cs = np.asarray(cs, dtype=np.float64)
    out = cs.copy()
    nmax = cs.shape[-1] - 1
    for m in range(int(mmin), nmax + 1):
        h = half_width(m)
        for p in (0, 1):
            degrees = np.array([n for n in range(m, nmax + 1) if n % 2 == p and n >= nmin])
            if degrees.size < 2 * h + 1:
                continue  # shorter than its window: left as it is
            chain = cs[..., degrees, m]  # (..., 2, L)
            out[..., degrees, m] = chain - chain @ _smoother(degrees.size, h).T
    return out
