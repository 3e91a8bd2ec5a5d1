"""Input-target pairs for the network (method note §3).

Per component and window: Gaussian filter, conversion to equivalent water height, synthesis
on the Driscoll-Healy grid, optional regional cut-out; per year: the lat-lon-t cube resampled
in time to ``dim`` steps, turned into samples; the input is the sum of the targets.

File layout (``samples.h5``)
----------------------------
root attributes: ``components``, ``sampling``, ``dim``, ``dim_global``, ``nmax``,
``nmax_flt``, ``unit``, ``extent``, ``row0``, ``col0``, ``random_samples``,
``train_years``, ``validation_years``, ``test_years``
``/lat`` (dim,), ``/lon`` (dim,) [degrees]
``/years/<YYYY>/input`` (S, dim, dim) and ``/target`` (S, dim, dim, C) [m EWH]
``/years/<YYYY>/time`` (numt,) window mid-epochs [s since 1970], ``doy`` (numt,) day of year
``/years/<YYYY>`` attribute ``numt`` (windows in the year)
``/random/g``, ``/random/g_pinv`` where random samples are on: samples are ``g @ samples``.
"""

import json
import os
from pathlib import Path

import h5py
import numpy as np

from . import filtering, grids, sampling, units


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
    if unit != "EWH":
        raise ValueError(f"unit {unit!r} is not supported (EWH)")
    nmax = cs_stokes.shape[-1] - 1
    cs = cs_stokes
    if nmax_flt:
        cs = filtering.apply_weights(
            cs, filtering.gaussian_weights(nmax, filtering.half_width_km(nmax_flt))
        )
    ewh = units.stokes_to_ewh(cs)
    return np.moveaxis(grids.synthesize(ewh, dim), 0, -1)


def _window_mid(path):
    with h5py.File(path, "r") as f:
        return (f["time"][:] + f["time_end"][:]) // 2, f["cs"][:]


def build_dataset(stores, out, components, years, split, nmax_flt, unit, extent, samp,
                  random_samples=False, seed=0, dtype="float32"):  # fmt: skip
    """Write the input-target file of a dataset definition.

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
        Sampling (see :mod:`gravsep.sampling`).
    random_samples : bool
        Replace the ``dim`` samples of a year by ``2*dim`` random combinations.
    seed : int
        Seed of the random combinations.
    dtype : str
        Storage type of inputs and targets.
    """
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    out.parent.mkdir(parents=True, exist_ok=True)
    first = stores[(components[0], years[0])]
    with h5py.File(first, "r") as f:
        nmax = int(f.attrs["nmax"])
    dim_global = grids.grid_size(nmax)
    lat, lon = grids.lat_lon(dim_global)
    if extent.get("type", "global") == "regional":
        row0, col0, dim = regional_window(lat, lon, extent["lat"], extent["lon"])
    else:
        row0, col0, dim = 0, 0, dim_global
    g = g_pinv = None
    if random_samples:
        g, g_pinv = sampling.random_mixing(dim, 2 * dim, seed)
    try:
        with h5py.File(tmp, "w") as h:
            h.attrs.update(
                components=list(components), sampling=samp, dim=dim, dim_global=dim_global,
                nmax=nmax, nmax_flt=int(nmax_flt), unit=unit, extent=json.dumps(extent),
                row0=row0, col0=col0, random_samples=bool(random_samples),
                train_years=list(split["train_years"]),
                validation_years=list(split["validation_years"]),
                test_years=list(split["test_years"]),
            )  # fmt: skip
            h["lat"] = lat[row0 : row0 + dim]
            h["lon"] = lon[col0 : col0 + dim]
            h["lat"].attrs["units"] = h["lon"].attrs["units"] = "degrees"
            if g is not None:
                h["random/g"] = g
                h["random/g_pinv"] = g_pinv
            for year in years:
                cubes, mids = [], []
                for comp in components:
                    mid, cs = _window_mid(stores[(comp, year)])
                    cube = component_cube(cs, nmax_flt, dim_global, unit)
                    cubes.append(cube[row0 : row0 + dim, col0 : col0 + dim])
                    mids.append(mid)
                numt = min(c.shape[-1] for c in cubes)
                cube = np.stack([c[..., :numt] for c in cubes])
                cube = sampling.resample_time(cube, dim)
                target = sampling.cube_to_samples(cube, samp)
                if g is not None:
                    target = sampling.mix(target, g)
                target = target.astype(dtype)
                grp = h.create_group(f"years/{year}")
                grp.attrs["numt"] = numt
                grp.create_dataset(
                    "target", data=target, chunks=(1,) + target.shape[1:], dtype=dtype
                )
                grp.create_dataset(
                    "input", data=target.sum(axis=-1, dtype=np.float64).astype(dtype),
                    chunks=(1,) + target.shape[1:-1], dtype=dtype,
                )  # fmt: skip
                mid = mids[0][:numt]
                grp["time"] = mid
                grp["time"].attrs["units"] = "seconds since 1970-01-01 00:00:00 UTC"
                t = mid.astype("datetime64[s]")
                grp["doy"] = (t - t.astype("datetime64[Y]")) / np.timedelta64(1, "D") + 1.0
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
