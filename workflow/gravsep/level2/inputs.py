"""Level-2 gravity fields read from GSM RL06 or ICGEM gfc files, in the model's constants.

Every file becomes a :class:`Month`: its coefficients truncated to the processing degree and
rescaled from the file's GM and reference radius to the model's (:data:`gravsep.constants.GM`,
:data:`gravsep.constants.R_EARTH`), the normalisation checked by the reader, the data span kept
(GSM: the records' ``begin``/``end``; ICGEM: from the file name, which is where ICGEM monthly
solutions keep it: ``..._YYYY-MM.gfc`` (ITSG-Grace2018) or a GSM-style
``..._YYYYDOY-yyyydoy_...`` (COST-G via ICGEM)).

Rescaling: the potential ``GM/r sum (R/r)^n C_nm Y_nm`` is unchanged when

    C_nm(to) = C_nm(from) * (GM_from / GM_to) * (R_from / R_to)^n.
"""

import glob
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gravsep.constants import GM, R_EARTH
from gravsep.formats.gsm import name_span, read_gsm
from gravsep.formats.icgem import read_icgem
from gravsep.formats.textfile import FormatError

FORMATS = ("gsm", "icgem")
_MONTH_NAME = re.compile(r"_(\d{4})-(\d{2})(\.gfc)?(\.gz)?$")


@dataclass
class Month:
    """One Level-2 field.

    Attributes
    ----------
    start, end : numpy.datetime64
        The data span [s], end excluded.
    cs : numpy.ndarray
        ``(2, N+1, N+1)`` dimensionless Stokes coefficients in the model's constants.
    source : str
        The file.
    sha256 : str
        Checksum of the file's bytes.
    info : dict
        The file's ``gm`` [m^3 s^-2], ``radius`` [m], ``nmax`` (its degree), ``format``,
        ``tide`` and the corrections applied later (``corrections``).
    """

    start: np.datetime64
    end: np.datetime64
    cs: np.ndarray
    source: str
    sha256: str
    info: dict = field(default_factory=dict)

    @property
    def mid(self):
        """Mid-epoch ``datetime64[s]``."""
        return self.start + (self.end - self.start) // 2

    @property
    def label(self):
        """``YYYY-MM`` of the mid-epoch."""
        return str(self.mid.astype("datetime64[M]"))


def rescale(cs, gm_from, radius_from, gm_to=GM, radius_to=R_EARTH):
    """Coefficients ``(..., 2, N+1, N+1)`` of constants ``gm_from``, ``radius_from`` [SI] in
    the constants ``gm_to``, ``radius_to`` (module docstring)."""
    cs = np.asarray(cs, dtype=np.float64)
    n = np.arange(cs.shape[-1], dtype=np.float64)
    factor = (gm_from / gm_to) * (radius_from / radius_to) ** n
    return cs * factor[:, None]


def icgem_span(path):
    """Data span of an ICGEM monthly file, from its name (module docstring)."""
    name = Path(str(path)).name
    span = name_span(name.removesuffix(".gz").removesuffix(".gfc"))
    if span is not None:
        return span
    match = _MONTH_NAME.search(name)
    if match:
        start = np.datetime64(f"{match[1]}-{match[2]}", "M")
        return start.astype("datetime64[s]"), (start + 1).astype("datetime64[s]")
    raise FormatError(
        f"{path}: no data span in the name (expected ..._YYYY-MM.gfc as ITSG-Grace2018, or a "
        "GSM-style ..._YYYYDOY-yyyydoy_... name)"
    )


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_field(path, fmt, nmax, need_span=True):
    """One file as a :class:`Month` of degree ``nmax`` in the model's constants.

    ``need_span=False`` reads an ICGEM file without a span in its name (a mean field); its
    span is then ``NaT``.

    Raises
    ------
    FormatError, gravsep.formats.icgem.ICGEMError
        A file that does not follow its format, or of degree below ``nmax`` (named).
    """
    if fmt == "gsm":
        cs, _, info = read_gsm(path)
        start, end = info["start"], info["end"]
    elif fmt == "icgem":
        try:
            start, end = icgem_span(path)
        except FormatError:
            if need_span:
                raise
            start = end = np.datetime64("NaT", "s")
        cs, info = read_icgem(path, min_degree=2)
        info = {"gm": info["gm"], "radius": info["radius"], "nmax": info["max_degree"],
                "tide": info.get("tide_system", ""), "norm": info["norm"]}  # fmt: skip
    else:
        raise ValueError(f"unknown input format {fmt!r}; one of {FORMATS}")
    if info["nmax"] < nmax:
        raise FormatError(
            f"{path}: degree {info['nmax']} is below the processing degree {nmax}; refusing it"
        )
    cs = rescale(cs[:, : nmax + 1, : nmax + 1], info["gm"], info["radius"])
    meta = {k: info[k] for k in ("gm", "radius", "nmax", "tide")} | {"format": fmt}
    return Month(np.datetime64(start, "s"), np.datetime64(end, "s"), cs, str(path),
                 _sha256(path), meta)  # fmt: skip


def expand_files(entries):
    """Files of a list of paths, glob patterns and folders (every file in a folder), sorted.

    Raises
    ------
    FileNotFoundError
        An entry that names nothing.
    """
    files = []
    for entry in entries:
        path = Path(entry)
        if path.is_dir():
            found = sorted(str(p) for p in path.iterdir() if p.is_file())
        elif any(c in str(entry) for c in "*?["):
            found = sorted(p for p in glob.glob(str(entry)) if Path(p).is_file())
        else:
            found = [str(path)] if path.is_file() else []
        if not found:
            raise FileNotFoundError(f"input files: {entry!r} names no file")
        files += found
    return sorted(dict.fromkeys(files))


def read_inputs(files, fmt, nmax):
    """Every file as a :class:`Month`, in time order.

    Raises
    ------
    ValueError
        Two files whose spans overlap (naming both).
    """
    months = sorted((read_field(p, fmt, nmax) for p in files), key=lambda m: m.start)
    for a, b in zip(months, months[1:], strict=False):
        if b.start < a.end:
            raise ValueError(
                f"{b.source}: its span {b.start} .. {b.end} overlaps {a.source}'s "
                f"{a.start} .. {a.end}"
            )
    return months


def check_time_step(months, deltat):
    """Refuse months whose spans do not fit the time step (``month``: 7 to 40 days, as GRACE
    months run, some of them short; hours: the span within 6 h of ``deltat``), naming them."""
    for m in months:
        days = (m.end - m.start) / np.timedelta64(1, "D")
        if deltat == "month":
            ok = 7.0 <= days <= 40.0
        else:
            ok = abs(days * 24.0 - float(deltat)) <= 6.0
        if not ok:
            raise ValueError(
                f"{m.source}: a span of {days:.2f} days ({m.start} .. {m.end}) does not fit "
                f"the time step {deltat!r} of the processing"
            )
