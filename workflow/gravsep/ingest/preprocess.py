"""Combined components, temporal windows and yearly-mean removal (method note §2).

Every function reads and writes :mod:`gravsep.formats.store` files and streams over epochs, so
memory stays bounded by one window (or one block of epochs) at degree 180.
"""

from datetime import datetime

import numpy as np

from gravsep import timestep
from gravsep.constants import EPOCH_HOURS
from gravsep.formats.store import Store, StoreWriter, from_seconds, to_seconds

#: Epochs read at once when streaming a store.
BLOCK = 64


def combine(stores, out, component, year):
    """Sum letter stores epoch by epoch into a component store (e.g. AO = A + O).

    Parameters
    ----------
    stores : list of path-like
        One letter store per letter of ``component``, same year.
    out : path-like
    component : str
    year : int

    Raises
    ------
    ValueError
        The stores disagree in epochs, degree, GM or radius (the message names them).
    """
    files = _open_all(stores)
    try:
        ref = files[0]
        t = ref.time
        for p, f in zip(stores, files, strict=True):
            if f.cs.shape != ref.cs.shape or not np.array_equal(f.time, t):
                raise ValueError(f"{p}: epochs or degree differ from {stores[0]}")
            for key in ("gm", "radius"):
                if f.attrs[key] != ref.attrs[key]:
                    raise ValueError(f"{p}: {key} {f.attrs[key]} differs from {stores[0]}")
        n = len(t)
        with StoreWriter(
            out, component, year, ref.nmax, n, "component", ref.attrs["gm"], ref.attrs["radius"]
        ) as w:
            for a in range(0, n, BLOCK):
                b = min(n, a + BLOCK)
                total = files[0].cs[a:b]
                for f in files[1:]:
                    total = total + f.cs[a:b]
                w.write(a, total, t[a:b])
    finally:
        for f in files:
            f.close()


def _open_all(paths):
    files = []
    try:
        for p in paths:
            files.append(Store(p))
    except BaseException:
        for f in files:
            f.close()
        raise
    return files


def window_edges(years, deltat):
    """Start and end of the consecutive ``deltat`` windows over ``years``.

    Windows of whole hours start at 1 January 00 h of the first year and follow each other
    without gap; the last window ends no later than 1 January of the year after the last year
    (a trailing partial window is dropped). With ``deltat`` ``"month"`` the windows are the
    calendar months (:func:`gravsep.timestep.month_edges`).

    Returns
    -------
    start, end : numpy.ndarray
        ``datetime64[s]``.
    """
    deltat = timestep.check(deltat)
    if timestep.is_month(deltat):
        return timestep.month_edges(min(years), max(years))
    first = np.datetime64(f"{min(years):04d}-01-01T00:00:00", "s")
    stop = np.datetime64(f"{max(years) + 1:04d}-01-01T00:00:00", "s")
    step = np.timedelta64(int(deltat) * 3600, "s")
    n = int((stop - first) // step)
    start = first + step * np.arange(n)
    return start, start + step


def windows_of_year(years, deltat, year):
    """The windows filed under ``year`` (those that start in it)."""
    start, end = window_edges(years, deltat)
    y = start.astype("datetime64[Y]").astype(int) + 1970
    keep = y == int(year)
    return start[keep], end[keep]


def window_name(component, start, end):
    """Name of a window's coefficient file, ``mtmshc_<COMP>_<YYYYMMDD_HH>_<YYYYMMDD_HH>.180``."""

    def fmt(t):
        return datetime.fromisoformat(str(np.datetime64(t, "s"))).strftime("%Y%m%d_%H")

    return f"mtmshc_{component}_{fmt(start)}_{fmt(end)}.180"


def window_means(stores, out, component, years, deltat, year):
    """Mean of the 6-hourly fields in each ``deltat`` window that starts in ``year``.

    Each window averages the epochs it holds: ``deltat / 6`` of them for windows of whole
    hours, 112 to 124 for calendar months (``deltat`` ``"month"``).

    Parameters
    ----------
    stores : list of path-like
        The component stores of ``year`` and, if windows reach into it, of the next year.
    out : path-like
        Window store: ``/cs`` (W, 2, N+1, N+1), ``/time`` the window starts, ``/time_end``.

    Raises
    ------
    ValueError
        A window lacks epochs (the message names the window).
    """
    start, end = windows_of_year(years, deltat, year)
    files = _open_all(stores)
    try:
        times = [f.time for f in files]
        step = EPOCH_HOURS * 3600
        ref = files[0]
        nmax = ref.nmax
        with StoreWriter(
            out, component, year, nmax, len(start), "windows", ref.attrs["gm"], ref.attrs["radius"]
        ) as w:
            w.set_window_ends(to_seconds(end))
            for i, (s, e) in enumerate(zip(to_seconds(start), to_seconds(end), strict=True)):
                want = np.arange(s, e, step)
                k = want.size  # deltat / 6 h, or the epochs of a calendar month
                total = np.zeros((2, nmax + 1, nmax + 1))
                found = 0
                for f, t in zip(files, times, strict=True):
                    # exact matches only: for a missing epoch searchsorted points at the next
                    # one, which must not be counted twice
                    idx = np.searchsorted(t, want)
                    hit = idx < len(t)
                    hit[hit] = t[idx[hit]] == want[hit]
                    idx = idx[hit]
                    if idx.size:
                        block = f.cs[idx[0] : idx[-1] + 1]
                        total += block[idx - idx[0]].sum(axis=0)
                        found += idx.size
                if found != k:
                    name = window_name(component, from_seconds(s), from_seconds(e))
                    raise ValueError(
                        f"window {name}: {found} of {k} epochs present in "
                        + ", ".join(map(str, stores))
                    )
                w.write(i, (total / k)[None], np.array([s]))
    finally:
        for f in files:
            f.close()


def remove_yearly_mean(window_store, out, subtract=True):
    """Subtract the mean of a year's windows from each of them (same layout as the input).

    With ``subtract=False`` (``remove_yearly_mean: false``) the windows are kept as they are,
    in the same layout, with a zero ``yearly_mean``.
    """
    with Store(window_store) as f:
        cs = f.cs[:]
        attrs, t, t_end = f.attrs, f.time, f.time_end
    mean = cs.mean(axis=0) if subtract else np.zeros_like(cs[0])
    with StoreWriter(
        out, attrs["name"], attrs["year"], attrs["nmax"], len(cs), "anomalies",
        attrs["gm"], attrs["radius"],
    ) as w:  # fmt: skip
        w.write(0, cs - mean, t)
        w.set_window_ends(t_end)
        w.set_yearly_mean(mean)


def copy_windows(window_store, out):
    """Keep windows as they are, in the anomaly layout (:func:`remove_yearly_mean` unsubtracted)."""
    remove_yearly_mean(window_store, out, subtract=False)


__all__ = [
    "combine",
    "copy_windows",
    "from_seconds",
    "remove_yearly_mean",
    "window_edges",
    "window_means",
    "window_name",
    "windows_of_year",
]
