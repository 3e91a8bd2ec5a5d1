"""The Δt windows as ICGEM files, for users of other tools (rule export_windows).

One ``.tar.gz`` per component and year holds the windows that start in that year, in the
folder layout of the reference: ``<COMP>/<YEAR>/mtmshc_<COMP>_<YYYYMMDD_HH>_<YYYYMMDD_HH>.180``
(name from :func:`gravsep.ingest.preprocess.window_name`: start and end of the window, UTC). Each
file holds the window's mean of the 6-hourly fields, with the yearly mean of the windows
removed where the store says so, as fully normalised, dimensionless Stokes coefficients with
the GM and radius of the input files. The archive's bytes depend only on the content (fixed
time stamps), and it appears under its final name only when complete.
"""

import calendar
from pathlib import Path

import numpy as np

from gravsep.formats.archive import write_tar_gz
from gravsep.formats.icgem import format_icgem
from gravsep.formats.store import Store
from gravsep.ingest.preprocess import window_name


def window_files(store):
    """``(member path, ICGEM text)`` of every window in an anomaly (or window) store."""
    with Store(store) as f:
        attrs = f.attrs
        start, end = f.time, f.time_end
        comp = str(attrs["name"])
        mean = f.yearly_mean()
        removed = str(attrs.get("kind")) == "anomalies" and mean is not None and bool(np.any(mean))
        for i, (s, e) in enumerate(zip(start, end, strict=True)):
            t0, t1 = np.datetime64(int(s), "s"), np.datetime64(int(e), "s")
            name = window_name(comp, t0, t1)
            year = t0.astype("datetime64[Y]").astype(int) + 1970
            comments = [
                f"ESA Earth System Model, component {comp}: mean of the 6-hourly fields "
                f"from {t0} to {t1} UTC (end excluded)",
                "yearly mean of the windows removed"
                if removed
                else "yearly mean of the windows not removed",
            ]
            text = format_icgem(
                f.cs[i], modelname=name[: -len(".180")], gm=float(attrs["gm"]),
                radius=float(attrs["radius"]), comments=comments,
            )  # fmt: skip
            yield f"{comp}/{year:04d}/{name}", text


def export_windows(store, out_tar):
    """Write the windows of one component-year store as ICGEM files in one ``.tar.gz``.

    Parameters
    ----------
    store : path-like
        Window store of :mod:`gravsep.ingest.preprocess` (``/cs``, ``/time``, ``/time_end``).
    out_tar : path-like
        Archive to write (temporary name, renamed when complete).

    Returns
    -------
    list of str
        The member paths, in time order.
    """
    out_tar = Path(out_tar)
    out_tar.parent.mkdir(parents=True, exist_ok=True)
    with Store(store) as f:
        year = int(f.attrs["year"])
    mtime = calendar.timegm((year, 1, 1, 0, 0, 0, 0, 1, 0))
    members = ((member, text.encode("ascii")) for member, text in window_files(store))
    return write_tar_gz(out_tar, members, mtime, compresslevel=6)
