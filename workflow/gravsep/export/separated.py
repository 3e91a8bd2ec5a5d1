"""Exports of a model's separated fields: NetCDF-CF grids and ICGEM coefficient files.

:func:`export` (rule ``export``) reads the separated test years once
(:func:`gravsep.export.fields.read_separated`) and writes both products:
:mod:`gravsep.export.netcdf` (``separated.nc``) and :mod:`gravsep.export.icgem`
(``separated_icgem.tar.gz``).
"""

import datetime as dt
import logging
from pathlib import Path

from gravsep.export.fields import read_separated
from gravsep.export.icgem import write_icgem_archive
from gravsep.export.netcdf import to_xarray, write_netcdf

log = logging.getLogger(__name__)


def export(
    dataset_h5,
    predictions_h5,
    out_nc,
    out_tar,
    model="",
    evaluation_h5=None,
    deltat_hours=None,
    years=None,
):
    """NetCDF-CF grids and ICGEM archive of a model's separated test years.

    Parameters
    ----------
    dataset_h5, predictions_h5 : path-like
        Layouts in :mod:`gravsep.evaluation.evaluate`.
    out_nc, out_tar : path-like
        NetCDF file and ``.tar.gz`` of ICGEM files (see the module docstring).
    model : str
        Model name.
    evaluation_h5 : path-like, optional
        Evaluation file, for the relative errors recorded in the NetCDF attributes.
    deltat_hours : float or "month", optional
        Window length [h]; default the spacing of the windows.
    years : iterable of int, optional
        Default the dataset's test years.

    Returns
    -------
    dict
        ``netcdf`` path, ``icgem`` member names, ``windows`` count.
    """
    sep = read_separated(dataset_h5, predictions_h5, years)
    history = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}: gravsep.export of "
        f"{Path(predictions_h5).name} (model {model}) and {Path(dataset_h5).name}"
    )
    ds = to_xarray(sep, model, deltat_hours, evaluation_h5, history)
    write_netcdf(ds, out_nc)
    log.info("wrote %s (%d windows)", out_nc, len(sep["time"]))
    names = write_icgem_archive(sep, out_tar, model, deltat_hours)
    log.info("wrote %s (%d coefficient files)", out_tar, len(names))
    return {"netcdf": str(out_nc), "icgem": names, "windows": len(sep["time"])}
