"""gravsep: separation of time-variable gravity signals with a multi-channel U-Net.

Array conventions, used in every module
---------------------------------------
Spherical-harmonic coefficients
    ``cs[..., 2, N+1, N+1]`` as in pyshtools' ``cilm``: ``cs[..., 0, n, m]`` is C_nm,
    ``cs[..., 1, n, m]`` is S_nm, 4-pi fully normalised, dimensionless (Stokes) or metres of
    equivalent water height (EWH) where a function says so. Leading axes are time.
Grids
    Driscoll-Healy, sampling 1: ``dim x dim`` with latitude ``90 - 180/dim * i`` (north to
    south, the south pole excluded) and longitude ``360/dim * j`` degrees east.
Cubes
    ``(component, lat, lon, time)``; metres of EWH.
Samples
    ``(sample, row, column)`` as defined in :mod:`gravsep.dataset.sampling`.
Times
    ``numpy.datetime64[s]`` in memory, int64 seconds since 1970-01-01 UTC in files.
"""

__version__ = "0.1.0"
