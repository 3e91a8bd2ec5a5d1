"""Input-target pairs for the network (method note §3).

Per component and window: Gaussian filter, conversion to equivalent water height, synthesis
on the Driscoll-Healy grid, optional regional cut-out; per year: the lat-lon-t cube resampled
in time to ``dim`` steps, turned into samples; the input is the sum of the targets.

The file layout is owned by :mod:`gravsep.formats.samples`.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from gravsep.dataset import sampling
from gravsep.formats.samples import SamplesWriter
from gravsep.formats.store import Store
from gravsep.harmonics import filtering, grids, units
from gravsep.harmonics.noise import NoiseSource, active


def regional_window(lat, lon, lat_range, lon_range):
    """Rows and columns of the square power-of-two cut-out that covers a lat/lon box.

    The box's rows and columns are grown to the smallest power of two that covers both,
    centred on the box and shifted to stay inside the global grid.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Grid latitudes and longitudes [degrees].
    lat_range, lon_range : (float, float)
        Box limits [degrees]; longitudes in 0..360.

    Returns
    -------
    row0, col0, size : int
    """
    rows = np.flatnonzero((lat >= min(lat_range)) & (lat <= max(lat_range)))
    cols = np.flatnonzero((lon >= min(lon_range)) & (lon <= max(lon_range)))
    if rows.size == 0 or cols.size == 0:
        raise ValueError(f"the box lat {lat_range}, lon {lon_range} holds no grid point")
    need = max(rows.size, cols.size)
    size = 1 << (need - 1).bit_length()
    size = min(size, len(lat))

    def place(idx, n):
        centre = (idx[0] + idx[-1]) / 2.0
        start = int(round(centre - (size - 1) / 2.0))
        return int(np.clip(start, 0, n - size))

    return place(rows, len(lat)), place(cols, len(lon)), size


def component_grids(cs_stokes, nmax_flt, dim, unit="EWH"):
    """Filtered grids of one component's windows, ``(W, dim, dim)`` (t, lat, lon) [m].

    Parameters as for :func:`component_cube`.
    """
    if unit != "EWH":
        raise ValueError(f"unit {unit!r} is not supported (EWH)")
    nmax = cs_stokes.shape[-1] - 1
    cs = cs_stokes
    if nmax_flt:
        cs = filtering.apply_weights(
            cs, filtering.gaussian_weights(nmax, filtering.half_width_km(nmax_flt))
        )
    return grids.synthesize(units.stokes_to_ewh(cs), dim)


def component_cube(cs_stokes, nmax_flt, dim, unit="EWH"):
    """Filtered grids of one component's windows.

    Parameters
    ----------
    cs_stokes : numpy.ndarray
        ``(W, 2, N+1, N+1)`` dimensionless Stokes coefficients of the windows.
    nmax_flt : int
        Degree that sets the Gaussian filter radius (``20000/nmax_flt/2`` km); 0 = no filter.
    dim : int
        Global grid size.
    unit : str
        ``EWH`` (metres of equivalent water height).

    Returns
    -------
    numpy.ndarray
        ``(dim, dim, W)`` cube (lat, lon, t) [m].
    """
    return np.moveaxis(component_grids(cs_stokes, nmax_flt, dim, unit), 0, -1)


def _interp(x, lo, frac, same, axis):
    """Resample axis ``axis`` of ``x`` (the windows) at ``lo + frac``, as resample_time does."""
    if same:  # no interpolation: the windows themselves (or the single window repeated)
        return np.take(x, np.minimum(lo + (frac > 0), x.shape[axis] - 1), axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    f = frac.reshape(shape)
    out = np.take(x, lo, axis=axis)
    out *= 1.0 - f
    upper = np.take(x, lo + 1, axis=axis)
    upper *= f
    out += upper
    return out


def _block_samples(win, samp, lo, frac, same, sel, mixing):
    """Samples ``sel`` (a slice of the sample axis) of one component, float64.

    ``win`` are the component's window grids ``(W, lat, lon)``; the cube is their time
    resampling ``(lat, lon, t)``. With ``mixing`` (rows ``sel`` of G), the samples are
    ``G[sel] @ samples``: G acts on the sample axis and the time resampling on another (or,
    for lat_lon, both are linear maps of the window axis), so the mixing is applied to the
    windows first and only the requested rows are ever formed.
    """
    if samp == "lat_lon":  # sample = t
        if mixing is None:
            return _interp(win, lo[sel], frac[sel], same, 0)
        n_in = win.shape[0]
        r = np.zeros((len(lo), n_in))  # the time resampling as a matrix
        rows = np.arange(len(lo))
        np.add.at(r, (rows, lo), 1.0 - frac)
        np.add.at(r, (rows, np.minimum(lo + 1, n_in - 1)), frac)
        w = mixing @ r  # (B, W)
        return (w @ win.reshape(n_in, -1)).reshape((len(w),) + win.shape[1:])
    if samp == "lat_t":  # sample = lon; image (lat, t)
        part = win[:, :, sel] if mixing is None else np.tensordot(win, mixing, axes=(2, 1))
        return np.ascontiguousarray(_interp(part, lo, frac, same, 0).transpose(2, 1, 0))
    if samp == "t_lon":  # sample = lat; image (t, lon)
        if mixing is not None:
            return _interp(np.tensordot(mixing, win, axes=(1, 1)), lo, frac, same, 1)
        return np.ascontiguousarray(_interp(win[:, sel, :], lo, frac, same, 0).transpose(1, 0, 2))
    raise ValueError(f"unknown sampling {samp!r}; one of {sorted(sampling.ORDER)}")


#: Bytes of float64 samples (all components) formed at once when writing a year.
BLOCK_BYTES = 32 << 20


class _Writer:
    """Writes blocks to HDF5 datasets in a background thread while the next are formed.

    At most ``depth`` blocks wait (bounded memory); an error in the thread is raised by the
    next :meth:`put` or on leaving the ``with`` block. h5py serialises its calls with a lock
    and lets other threads run during the write, so forming and writing overlap.
    """

    def __init__(self, depth=2):
        self.depth, self.pending = depth, []

    def __enter__(self):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataset-writer")
        return self

    def put(self, dataset, sel, values):
        while len(self.pending) >= self.depth:
            self.pending.pop(0).result()
        self.pending.append(self.pool.submit(dataset.__setitem__, sel, values))

    def __exit__(self, exc_type, exc, tb):
        try:
            for future in self.pending:
                if exc_type is None:
                    future.result()
                else:
                    future.cancel()
        finally:
            self.pool.shutdown(wait=True)
        return False


def build_dataset(stores, out, components, years, split, nmax_flt, unit, extent, samp,
                  random_samples=False, seed=0, dtype="float32", noise=None,
                  deltat=None):  # fmt: skip
    """Write the input-target file of a dataset definition.

    Memory stays bounded: per year, the window grids of every component (and of the noise,
    with noise) are held (float64, ``C x W x dim x dim``: 0.4 GiB for four components of 52
    weekly windows at 512x512, 0.1 GiB more for the noise), and the samples are formed and
    written a block of samples at a time, never as whole cubes; the augmentation bank adds
    ``bank_size x dim x dim`` (float64 while it is built).

    Parameters
    ----------
    stores : dict
        ``{(component, year): path}`` of the yearly-mean-removed window stores.
    out : path-like
        ``samples.h5``, written under a temporary name and renamed when complete.
    components : list of str
    years : list of int
        Every year of the dataset (train, validation and test).
    split : dict
        ``train_years``, ``validation_years``, ``test_years``.
    nmax_flt : int
    unit : str
    extent : dict
        ``{"type": "global"}`` or ``{"type": "regional", "lat": [a, b], "lon": [c, d]}``.
    samp : str
        Sampling (see :mod:`gravsep.dataset.sampling`).
    random_samples : bool
        Replace the ``dim`` samples of a year by ``2*dim`` random combinations.
    seed : int
        Seed of the random combinations.
    dtype : str
        Storage type of inputs and targets, a floating type (float32 unless asked otherwise);
        computations are in float64. Datasets are chunked one sample per chunk, the unit the
        training and evaluation readers take.
    noise : dict, optional
        The ``dataset.noise`` section (:mod:`gravsep.harmonics.noise`): each window's
        realisation is added to the summed coefficients of the input before the filter (the
        targets stay clean); with ``augment``, a bank of realisations for training is stored
        too.
    deltat : int or str, optional
        Time step of the windows (hours or ``"month"``), recorded in the file.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type, got {dtype}")
    sampling._order(samp)
    with Store(stores[(components[0], years[0])]) as f:
        nmax = f.nmax
    dim_global = grids.grid_size(nmax)
    lat, lon = grids.lat_lon(dim_global)
    if extent.get("type", "global") == "regional":
        row0, col0, dim = regional_window(lat, lon, extent["lat"], extent["lon"])
    else:
        row0, col0, dim = 0, 0, dim_global
    g = g_pinv = None
    if random_samples:
        g, g_pinv = sampling.random_mixing(dim, 2 * dim, seed)
    cut = (slice(row0, row0 + dim), slice(col0, col0 + dim))
    header = dict(dim_global=dim_global, nmax=nmax, nmax_flt=nmax_flt, unit=unit,
                  extent=extent, row0=row0, col0=col0, noise=noise,
                  deltat=deltat)  # fmt: skip
    grid = (nmax_flt, dim_global, unit, cut)
    source = _noise_source(noise, nmax, stores, components, years)
    with SamplesWriter(out, components=components, sampling=samp, lat=lat[cut[0]],
                       lon=lon[cut[1]], split=split, dtype=dtype, g=g, g_pinv=g_pinv,
                       **header) as writer:  # fmt: skip
        index = 0  # of the window in the whole series (which noise file it gets)
        train = []  # its windows in the training years (the only ones the bank may use)
        for year in years:
            wins, mid, bounds = _year_windows(stores, components, year, *grid)
            extra = None
            if source is not None:
                cs = [source.window(s, e, index + k) for k, (s, e) in enumerate(bounds)]
                extra = _grids(np.stack(cs), *grid)
            if year in split.get("train_years", []):
                train += range(index, index + len(mid))
            index += len(mid)
            inp, target = writer.add_year(year, len(mid))
            _write_samples(inp, target, wins, samp, g, dtype, extra)
            del wins, extra
            writer.set_times(year, mid)
        if source is not None and noise.get("augment"):
            days = float(np.median(np.diff(bounds, axis=1))) / 86400.0
            bank = source.bank(noise["bank_size"], days, indices=train)
            writer.set_noise_bank(_grids(bank, *grid))


def _noise_source(noise, nmax, stores, components, years):
    """The noise of the definition, or None; ``files`` mode checked against the window count."""
    if not active(noise):
        return None
    source = NoiseSource(noise, nmax)
    n_windows = 0
    for year in years:
        with Store(stores[(components[0], year)]) as f:
            n_windows += len(f)
    source.check_count(n_windows)
    return source


def _grids(cs, nmax_flt, dim_global, unit, cut):
    """Filtered EWH grids ``(W, dim, dim)`` of coefficients ``(W, 2, N+1, N+1)``, cut out."""
    full = component_grids(cs, nmax_flt, dim_global, unit)
    if full.shape[1:] != (cut[0].stop - cut[0].start, cut[1].stop - cut[1].start):
        full = np.ascontiguousarray(full[:, cut[0], cut[1]])
    return full


def _year_windows(stores, components, year, nmax_flt, dim_global, unit, cut):
    """Filtered EWH grids ``(W, dim, dim)`` of every component of a year, their mid-epochs and
    their ``(start, end)`` [s since 1970].

    Components are truncated to the shortest (``numt`` windows, method note §3.5).
    """
    wins, mids, bounds = [], [], None
    for comp in components:
        with Store(stores[(comp, year)]) as f:
            mid, cs = f.window_mids(), f.cs[:]
            if bounds is None:
                bounds = np.stack([f.time, f.time_end], axis=1)
        wins.append(_grids(cs, nmax_flt, dim_global, unit, cut))
        mids.append(mid)
        del cs
    numt = min(w.shape[0] for w in wins)
    return [w[:numt] for w in wins], mids[0][:numt], bounds[:numt]


def _write_samples(inp, target, wins, samp, g, dtype, extra=None):
    """Form a year's samples a block at a time and write them (background writer).

    ``extra`` (grids like the components') is added to the input only: the noise.
    """
    numt, dim = wins[0].shape[0], wins[0].shape[1]
    n_samples, n_comp = target.shape[0], len(wins)
    lo, frac, same = sampling.time_weights(numt, dim)
    block = max(1, min(n_samples, BLOCK_BYTES // (8 * dim * dim * n_comp)))
    with _Writer() as writer:
        for s0 in range(0, n_samples, block):
            sel = slice(s0, min(n_samples, s0 + block))
            mixing = None if g is None else g[sel]
            t = np.empty((sel.stop - s0, dim, dim, n_comp), dtype=dtype)
            total = None
            for c, win in enumerate(wins):
                part = _block_samples(win, samp, lo, frac, same, sel, mixing)
                t[..., c] = part
                if total is None:
                    total = part
                else:
                    total += part  # the input: the sum in float64
                del part
            if extra is not None:
                total += _block_samples(extra, samp, lo, frac, same, sel, mixing)
            writer.put(target, sel, t)
            writer.put(inp, sel, total.astype(dtype, copy=False))
            del t, total
