"""ICGEM export of the separated fields (``separated_icgem.tar.gz``).

``<COMP>/mtmshc_<COMP>_<YYYYMMDD_HH>_<YYYYMMDD_HH>.180`` per component and window of the test
years: SH analysis (:func:`~gravsep.harmonics.grids.analyze`) of the predicted EWH grid to the
dataset's ``nmax``, converted back to dimensionless Stokes coefficients
(:func:`~gravsep.harmonics.units.ewh_to_stokes`). The Gaussian filter of the dataset is not
undone, so the coefficients are those of the smoothed field (each file's header says so), and
degrees above what the grid resolves are zero. For an ensemble every line also has the
sigma columns: the standard deviation (``ddof=1``) of the members' coefficients (each member's
grid analysed alike). ``README.txt`` describes the archive. Only
global grids can be analysed; for a regional extent the archive holds the README alone.
"""

import gzip
import io
import logging
import os
import tarfile
import time as _time

import numpy as np

from gravsep.atomic import atomic_output
from gravsep.export.fields import component_long_name, window_bounds
from gravsep.formats.icgem import format_icgem
from gravsep.harmonics.filtering import half_width_km
from gravsep.harmonics.grids import analyze, is_global
from gravsep.harmonics.units import ewh_to_stokes
from gravsep.ingest.preprocess import window_name

log = logging.getLogger(__name__)


def window_coefficients(grid, nmax):
    """Stokes coefficients ``(2, nmax+1, nmax+1)`` of an EWH grid ``(dim, dim)`` [m].

    SH analysis of the DH grid to degree ``nmax``, then EWH to Stokes (the filter the grid
    was made with stays in).
    """
    return ewh_to_stokes(analyze(grid, lmax=nmax))


def icgem_members(sep, model="", deltat_hours=None):
    """``(archive name, text)`` of every component and window of :func:`read_separated`.

    Yields nothing for a regional grid (SH analysis needs the whole sphere).
    """
    attrs = sep["attrs"]
    lat, lon = sep["lat"], sep["lon"]
    if not is_global(lat, lon):
        return
    dim = len(lat)
    nmax = int(attrs.get("nmax", dim // 2 - 1))
    nmax = min(nmax, dim // 2 - 1)
    nmax_flt = int(attrs.get("nmax_flt", 0))
    bounds = window_bounds(sep["time"], deltat_hours)
    filt = (
        f"Gaussian filter of half-width {half_width_km(nmax_flt):.0f} km (nmax_flt "
        f"{nmax_flt}) is NOT undone: these are the coefficients of the smoothed field"
        if nmax_flt
        else "no filter was applied to the grids"
    )
    for c, comp in enumerate(sep["components"]):
        for k, (start, end) in enumerate(bounds):
            t0, t1 = (np.datetime64(int(v), "s") for v in (start, end))
            name = window_name(comp, t0, t1)
            cs = window_coefficients(sep["prediction"][c, :, :, k], nmax)
            sigmas = None
            if "members" in sep:
                member_cs = [window_coefficients(m[c, :, :, k], nmax) for m in sep["members"]]
                sigmas = np.std(member_cs, axis=0, ddof=1)
            comments = [
                f"{component_long_name(comp)} ({comp}) separated by gravsep model {model}",
                f"window {t0} to {t1} (mid-epoch {np.datetime64(int(sep['time'][k]), 's')})",
                f"SH analysis of the predicted EWH grid (Driscoll-Healy {dim} x {dim}) to "
                f"degree {nmax}, converted to Stokes coefficients with load Love numbers",
                "(Wahr et al. 1998, rho_ave 5517 kg/m^3, rho_w 1000 kg/m^3)",
                filt,
            ]
            if sigmas is not None:
                comments.append(f"sigmas: standard deviation of {len(sep['members'])} "
                                "ensemble members' coefficients")  # fmt: skip
            text = format_icgem(cs, modelname=name[: -len(".180")], comments=comments,
                                sigmas=sigmas)  # fmt: skip
            yield f"{comp}/{name}", text


def _readme(sep, model, n_files):
    glob = is_global(sep["lat"], sep["lon"])
    lines = [
        f"Separated spherical-harmonic coefficients of model {model}",
        f"years: {', '.join(str(y) for y in sep['years'])}",
        f"components: {' '.join(sep['components'])}",
        "",
    ]
    if glob:
        lines += [
            "One ICGEM file per component and window, <COMP>/mtmshc_<COMP>_<start>_<end>.180",
            "(start and end of the averaging window, YYYYMMDD_HH, UTC): fully normalised,",
            "dimensionless Stokes coefficients from the SH analysis of the predicted EWH grid.",
            "The Gaussian filter applied when the grids were made is NOT undone.",
            f"{n_files} files.",
        ]
    else:
        lines += [
            "The grids are regional: SH coefficients need the whole sphere, so none are",
            "given here; the separated fields are in separated.nc.",
        ]
    return "\n".join(lines) + "\n"


def write_icgem_archive(sep, path, model="", deltat_hours=None):
    """Write the ICGEM files of :func:`icgem_members` and a README as one ``.tar.gz``.

    Written atomically. Member times are ``SOURCE_DATE_EPOCH`` if set, else now.

    Returns
    -------
    list of str
        Member names of the coefficient files.
    """
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", _time.time()))
    names = []

    def add(tar, name, text):
        data = text.encode("ascii")
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = mtime
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))

    def write(tmp):
        with (
            open(tmp, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=mtime) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name, text in icgem_members(sep, model, deltat_hours):
                add(tar, name, text)
                names.append(name)
            add(tar, "README.txt", _readme(sep, model, len(names)))

    with atomic_output(path) as tmp:
        write(tmp)
    if not names:
        log.warning("regional grid: no SH coefficients exported to %s", path)
    return names
