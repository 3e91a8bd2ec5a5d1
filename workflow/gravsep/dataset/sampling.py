"""From lat-lon-t cubes to 2-D training samples and back.

A cube is indexed ``(component, lat, lon, t)`` (or ``(lat, lon, t)`` for one component).
The three samplings give ``(sample, row, column)`` as follows:

=========  ===============  =========================================
sampling   (sample, row, column)   one image is
=========  ===============  =========================================
lat_lon    (t, lat, lon)    a map at one time step
lat_t      (lon, lat, t)    a latitude-time section at one longitude
t_lon      (lat, t, lon)    a time-longitude section at one latitude
=========  ===============  =========================================

For several components the component axis goes last: ``(sample, row, column, component)``.
"""

import numpy as np

#: Axis order of (lat, lon, t) that gives (sample, row, column), per sampling.
ORDER = {"lat_lon": (2, 0, 1), "lat_t": (1, 0, 2), "t_lon": (0, 2, 1)}
#: Samplings whose images have time as one axis (slope and shape losses apply).
TIME_AXIS = {"lat_lon": None, "lat_t": 2, "t_lon": 1}


def _order(sampling):
    try:
        return ORDER[sampling]
    except KeyError:
        raise ValueError(f"unknown sampling {sampling!r}; one of {sorted(ORDER)}") from None


def cube_to_samples(cube, sampling):
    """Turn ``(lat, lon, t)`` or ``(comp, lat, lon, t)`` into samples.

    Returns
    -------
    numpy.ndarray
        ``(sample, row, column)`` or ``(sample, row, column, comp)``.
    """
    order = _order(sampling)
    cube = np.asarray(cube)
    if cube.ndim == 3:
        return np.ascontiguousarray(cube.transpose(order))
    if cube.ndim == 4:
        return np.ascontiguousarray(cube.transpose(tuple(a + 1 for a in order) + (0,)))
    raise ValueError(f"a cube has 3 or 4 axes, got shape {cube.shape}")


def samples_to_cube(samples, sampling):
    """Inverse of :func:`cube_to_samples`."""
    order = _order(sampling)
    inverse = tuple(np.argsort(order))
    samples = np.asarray(samples)
    if samples.ndim == 3:
        return np.ascontiguousarray(samples.transpose(inverse))
    if samples.ndim == 4:
        return np.ascontiguousarray(samples.transpose((3,) + inverse))
    raise ValueError(f"samples have 3 or 4 axes, got shape {samples.shape}")


def resample_time(cube, n_out, axis=-1):
    """Resample a regularly spaced time axis linearly to ``n_out`` steps.

    The new steps span exactly the first to the last input step,
    ``linspace(0, n_in - 1, n_out)`` in units of the input step (the reference's grid ran past
    the last sample). Applied back with ``n_out = n_in`` of the original, it is the mapping
    back from network time steps to windows.
    """
    cube = np.asarray(cube)
    x = np.moveaxis(cube, axis, -1)
    n_in = x.shape[-1]
    if n_in == n_out:
        return cube.copy()
    if n_in == 1:
        return np.moveaxis(np.repeat(x, n_out, axis=-1), -1, axis)
    pos = np.linspace(0.0, n_in - 1.0, n_out)
    lo = np.clip(np.floor(pos).astype(int), 0, n_in - 2)
    frac = (pos - lo).astype(x.dtype if np.issubdtype(x.dtype, np.floating) else float)
    out = x[..., lo] * (1.0 - frac) + x[..., lo + 1] * frac
    return np.moveaxis(out, -1, axis)


def time_weights(n_in, n_out):
    """The linear weights of :func:`resample_time` from ``n_in`` to ``n_out`` steps.

    Returns
    -------
    lo : numpy.ndarray
        ``(n_out,)`` int, the lower input step of each output step.
    frac : numpy.ndarray
        ``(n_out,)`` weight of step ``lo + 1`` (``1 - frac`` of ``lo``).
    same : bool
        No interpolation: ``n_in == n_out`` (or a single input step, repeated).
    """
    if n_in == 1:
        return np.zeros(n_out, dtype=int), np.zeros(n_out), True
    pos = np.linspace(0.0, n_in - 1.0, n_out)
    lo = np.clip(np.floor(pos).astype(int), 0, n_in - 2)
    return lo, pos - lo, n_in == n_out


def random_mixing(n_samples, n_out, seed):
    """Random linear combinations of samples (method note §3.7).

    Returns
    -------
    g : numpy.ndarray
        ``(n_out, n_samples)`` drawn from N(0, 1); new samples are ``g @ samples``.
    g_pinv : numpy.ndarray
        ``(n_samples, n_out)`` pseudo-inverse that maps combinations back.
    """
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n_out, n_samples))
    return g, np.linalg.pinv(g)


def mix(samples, g):
    """Apply a mixing matrix ``(n_out, n)`` over the sample axis of ``(n, ...)``."""
    samples = np.asarray(samples)
    return np.tensordot(g, samples, axes=(1, 0)).astype(samples.dtype, copy=False)


def unmix(dataset, g_pinv, chunk=16):
    """Original samples ``g_pinv @ samples`` of randomly mixed samples (method note §3.7).

    Parameters
    ----------
    dataset : h5py.Dataset or numpy.ndarray
        ``(S, ...)`` mixed samples, read ``chunk`` at a time.
    g_pinv : array_like
        ``(n, S)`` pseudo-inverse of the mixing matrix.

    Returns
    -------
    numpy.ndarray
        ``(n, ...)`` float32, in the units of the samples.
    """
    g_pinv = np.asarray(g_pinv, dtype=np.float64)
    n = dataset.shape[0]
    if g_pinv.shape[1] != n:
        raise ValueError(f"g_pinv {g_pinv.shape} does not fit {n} stored samples")
    orig = np.zeros((g_pinv.shape[0],) + tuple(dataset.shape[1:]), dtype=np.float64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        block = np.asarray(dataset[start:stop], dtype=np.float64)
        orig += np.tensordot(g_pinv[:, start:stop], block, axes=(1, 0))
    return orig.astype(np.float32)


#: Per sampling: the cube axis ``(lat, lon, t)`` that the sample axis runs along.
SAMPLE_AXIS = {"lat_lon": 2, "lat_t": 1, "t_lon": 0}


def read_cube(dataset, sampling, numt, g_pinv=None, chunk=16):
    """Map stored samples back to a lat-lon-t cube with ``numt`` windows.

    Inverse of the sampling transposes (:func:`samples_to_cube`), then the
    time axis is resampled from ``dim`` network steps back to the ``numt`` windows
    (:func:`resample_time`). Samples are read ``chunk`` at a time along the
    sample axis (the axis the dataset is chunked along). Where the samples are maps at one
    time step (``lat_lon``), the linear time resampling is applied as a matrix and accumulated
    block by block, so only the output cube has to fit in memory.

    Parameters
    ----------
    dataset : h5py.Dataset or numpy.ndarray
        ``(S, dim, dim)`` or ``(S, dim, dim, C)`` samples [m].
    sampling : str
        ``lat_lon``, ``lat_t`` or ``t_lon``.
    numt : int
        Number of windows of the year.
    g_pinv : numpy.ndarray, optional
        ``(dim, S)`` pseudo-inverse of a random sample mixing (method note §3.7); the
        original samples are ``g_pinv @ samples``.
    chunk : int
        Samples read at a time.

    Returns
    -------
    numpy.ndarray
        ``(lat, lon, numt)`` or ``(C, lat, lon, numt)`` float32 [m].
    """
    if sampling not in SAMPLE_AXIS:
        raise ValueError(f"unknown sampling {sampling!r}")
    n = dataset.shape[0]
    if g_pinv is not None:
        cube = samples_to_cube(unmix(dataset, g_pinv, chunk), sampling)
        return resample_time(cube, numt).astype(np.float32)
    axis = SAMPLE_AXIS[sampling]
    out = None
    weights = None
    if axis == 2:  # samples are time steps: resampling matrix (n, numt)
        weights = resample_time(np.eye(n, dtype=np.float64), numt).astype(np.float32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        part = samples_to_cube(np.asarray(dataset[start:stop], dtype=np.float32), sampling)
        if weights is not None:
            contrib = part @ weights[start:stop]
            if out is None:
                out = contrib
            else:
                out += contrib
            continue
        part = resample_time(part, numt).astype(np.float32)
        if out is None:
            shape = list(part.shape)
            shape[axis - 3] = n
            out = np.empty(shape, dtype=np.float32)
        index = [slice(None)] * out.ndim
        index[axis - 3] = slice(start, stop)
        out[tuple(index)] = part
    return out


def lat_axis(sampling):
    """Axis of a ``(sample, row, column[, comp])`` array that runs along latitude."""
    _order(sampling)  # a known sampling
    return {"lat_lon": 1, "lat_t": 1, "t_lon": 0}[sampling]
