"""GRACE technical notes TN-13 (degree 1) and TN-14 (SLR C20 and C30): readers and writers.

TN-14 (Loomis et al. 2020, GRL, doi:10.1029/2019GL085488; the layout of
``TN-14_C30_C20_GSFC_SLR.txt``)
    Free header text with a ``Constants:`` block (``Mean C20:``, ``Mean C30:``,
    ``GM: <value> (km^3/s^2)``, ``R: <value> (km)``), ended by the line ``Product:``; then one
    row per solution with ten columns, format ``(F7.1,F10.4,E22.13,2F8.4,E22.13,2F8.4,F8.1,
    F10.4)``: MJD of the start of the data span, its decimal year, C20, C20 minus the mean
    C20 [1e-10], the C20 sigma [1e-10], the same three for C30 (``NaN`` where no C30 is
    given), MJD of the end of the span and its decimal year. The end MJD is the instant the
    span ends (it matches the JPL GSM files' spans); spans of special months overlap.
TN-13 (Sun et al. 2016 method; ``TN-13_GEOC_<CENTRE>_RL06.txt``)
    Free header text ended by a line that starts with ``end of header``; it states the load
    Love number to use with the coefficients (``Degree 1 Love number (k1) = 0.021``, the
    centre-of-figure value). Then two records per month, ``GRCOF2 1 0 C10 0 sigma 0 begin
    end`` and ``GRCOF2 1 1 C11 S11 sigmaC sigmaS begin end`` (``yyyymmdd.hhmm``, end
    excluded), fully normalised and dimensionless.

Readers are bounded (file size, rows), check every row (field count, numbers, the decimal
years against the MJDs, C20 minus the mean against the mean, one (1,0) and one (1,1) record
per span) and name the file and line of what is wrong. Times are ``datetime64[s]``.
"""

import re
from pathlib import Path

import numpy as np

from gravsep.atomic import write_text
from gravsep.formats.gsm import RECORD, format_epoch, parse_epoch
from gravsep.formats.textfile import FormatError, excerpt, read_limited, to_float

#: The lines that end the headers.
TN14_END, TN13_END = "Product:", "end of header"
#: Most bytes read of a technical note (the real files are below 150 kB).
MAX_BYTES = 4 << 20
#: MJD of 1970-01-01.
MJD_UNIX = 40587.0
#: Unit of the difference and sigma columns of TN-14.
E10 = 1e-10
_LOVE = re.compile(r"\(k1\)\s*=\s*([-+]?\d*\.\d+)")
_CONSTANT = re.compile(r"^\s*(Mean C20|Mean C30|GM|R):\s*(\S+)\s*(\(([^)]*)\))?")
_UNIT = {"km^3/s^2": 1e9, "m^3/s^2": 1.0, "km": 1e3, "m": 1.0}


def mjd_to_datetime(mjd):
    """Modified Julian dates [days] -> ``datetime64[s]``."""
    seconds = np.round((np.asarray(mjd, dtype=np.float64) - MJD_UNIX) * 86400.0)
    return seconds.astype(np.int64).astype("datetime64[s]")


def datetime_to_mjd(t):
    """``datetime64`` -> Modified Julian date [days]."""
    return np.asarray(t, dtype="datetime64[s]").astype(np.int64) / 86400.0 + MJD_UNIX


def decimal_year(t):
    """``datetime64`` -> year and fraction of the year (days elapsed / days of the year)."""
    t = np.asarray(t, dtype="datetime64[s]")
    year = t.astype("datetime64[Y]")
    length = (year + 1).astype("datetime64[s]") - year.astype("datetime64[s]")
    return year.astype(np.int64) + 1970 + (t - year) / length


def _header_end(lines, marker, name):
    for i, line in enumerate(lines):
        if line.strip().lower().startswith(marker.lower()):
            return i
    raise FormatError(f"{name}: no line starting with {marker!r} ends the header")


def _tn14_constants(lines, name):
    found = {}
    for i, line in enumerate(lines):
        match = _CONSTANT.match(line)
        if not match:
            continue
        key, unit = match[1], (match[4] or "").strip()
        try:
            value = to_float(match[2])
        except ValueError:
            raise FormatError(f"{name}, line {i + 1}: {key} is not a number") from None
        if key in ("GM", "R"):
            if unit not in _UNIT:
                raise FormatError(f"{name}, line {i + 1}: unknown units of {key}: {unit!r}")
            value *= _UNIT[unit]
        found[key] = value
    missing = [k for k in ("Mean C20", "Mean C30", "GM", "R") if k not in found]
    if missing:
        raise FormatError(f"{name}: the header's Constants lack {', '.join(missing)}")
    return found


def _tn14_row(words, where, mean_c20):
    if len(words) != 10:
        raise FormatError(f"{where}: expected 10 columns, got {len(words)}: "
                          f"{excerpt(' '.join(words))}")  # fmt: skip
    try:
        v = [to_float(w) for w in words]
    except ValueError:
        raise FormatError(f"{where}: not a number in {excerpt(' '.join(words))}") from None
    if not np.all(np.isfinite([v[0], v[1], v[2], v[3], v[4], v[8], v[9]])):
        raise FormatError(f"{where}: NaN where C20 and the span must be given")
    if v[8] <= v[0]:
        raise FormatError(f"{where}: the span ends (MJD {v[8]}) before it starts ({v[0]})")
    for mjd, year in ((v[0], v[1]), (v[8], v[9])):
        if abs(decimal_year(mjd_to_datetime(mjd)) - year) > 2e-3:
            raise FormatError(f"{where}: decimal year {year} does not match MJD {mjd}")
    if abs(v[2] - mean_c20 - v[3] * E10) > 1e-13:
        raise FormatError(
            f"{where}: C20 {v[2]:.13e} minus the mean C20 is not the difference column "
            f"{v[3]} x 1e-10 (columns shifted?)"
        )
    return v


def read_tn14(source):
    """Read a TN-14 file (layout in the module docstring).

    Returns
    -------
    dict
        ``start``, ``end`` ``(R,)`` ``datetime64[s]`` (end excluded); ``c20``, ``c30``
        (NaN where not given), ``c20_sigma``, ``c30_sigma`` ``(R,)`` dimensionless;
        ``mean_c20``, ``mean_c30``; ``gm`` [m^3 s^-2], ``radius`` [m]; ``lines`` (the line
        number of each row); ``name``.

    Raises
    ------
    FormatError
        Naming the file and line.
    """
    text, name = read_limited(source, MAX_BYTES)
    lines = text.split("\n")
    end = _header_end(lines, TN14_END, name)
    const = _tn14_constants(lines[:end], name)
    rows, where = [], []
    for i, line in enumerate(lines[end + 1 :], start=end + 2):
        if line.strip():
            rows.append(_tn14_row(line.split(), f"{name}, line {i}", const["Mean C20"]))
            where.append(i)
    if not rows:
        raise FormatError(f"{name}: no rows after {TN14_END!r}")
    v = np.array(rows)
    return {
        "start": mjd_to_datetime(v[:, 0]), "end": mjd_to_datetime(v[:, 8]),
        "c20": v[:, 2], "c20_sigma": v[:, 4] * E10, "c30": v[:, 5], "c30_sigma": v[:, 7] * E10,
        "mean_c20": const["Mean C20"], "mean_c30": const["Mean C30"], "gm": const["GM"],
        "radius": const["R"], "lines": np.array(where), "name": name,
    }  # fmt: skip


def _tn13_record(words, where):
    if words[0] != RECORD or len(words) not in (9, 10):
        raise FormatError(f"{where}: expected a {RECORD} record of 9 or 10 fields, got "
                          f"{excerpt(' '.join(words))}")  # fmt: skip
    try:
        n, m = int(words[1]), int(words[2])
        values = [to_float(w) for w in words[3:7]]
        span = parse_epoch(words[7]), parse_epoch(words[8])
    except ValueError:
        raise FormatError(f"{where}: not a number or epoch in {excerpt(' '.join(words))}") from None
    if n != 1 or m not in (0, 1):
        raise FormatError(f"{where}: degree/order l={n}, m={m}; TN-13 holds degree 1 only")
    if not np.all(np.isfinite(values)):
        raise FormatError(f"{where}: NaN or infinite value")
    if span[1] <= span[0]:
        raise FormatError(f"{where}: the span {span[0]} .. {span[1]} is empty")
    return m, values, span


def read_tn13(source):
    """Read a TN-13 file (layout in the module docstring).

    Returns
    -------
    dict
        ``start``, ``end`` ``(M,)`` ``datetime64[s]``; ``c10``, ``c11``, ``s11`` and their
        sigmas ``c10_sigma``, ``c11_sigma``, ``s11_sigma`` ``(M,)`` dimensionless; ``love_k1``
        (the Love number the header states, or None); ``lines`` (line of each span's (1,0)
        record); ``name``.
    """
    text, name = read_limited(source, MAX_BYTES)
    lines = text.split("\n")
    end = _header_end(lines, TN13_END, name)
    love = _LOVE.search("\n".join(lines[:end]))
    months = {}  # span -> {m: (values, line)}
    for i, line in enumerate(lines[end + 1 :], start=end + 2):
        if not line.strip():
            continue
        where = f"{name}, line {i}"
        m, values, span = _tn13_record(line.split(), where)
        entry = months.setdefault(span, {})
        if m in entry:
            raise FormatError(f"{where}: a second (1,{m}) record for {span[0]} .. {span[1]} "
                              f"(first on line {entry[m][1]})")  # fmt: skip
        entry[m] = (values, i)
    if not months:
        raise FormatError(f"{name}: no {RECORD} records after the header")
    for span, entry in months.items():
        if set(entry) != {0, 1}:
            line = next(iter(entry.values()))[1]
            raise FormatError(f"{name}, line {line}: the span {span[0]} .. {span[1]} lacks its "
                              f"(1,{1 - next(iter(entry))}) record")  # fmt: skip
    spans = sorted(months)
    c0 = np.array([months[s][0][0] for s in spans])
    c1 = np.array([months[s][1][0] for s in spans])
    return {
        "start": np.array([s[0] for s in spans]), "end": np.array([s[1] for s in spans]),
        "c10": c0[:, 0], "c11": c1[:, 0], "s11": c1[:, 1], "c10_sigma": c0[:, 2],
        "c11_sigma": c1[:, 2], "s11_sigma": c1[:, 3],
        "love_k1": float(love[1]) if love else None,
        "lines": np.array([months[s][0][1] for s in spans]), "name": name,
    }  # fmt: skip


def _fortran_e(value, width):
    """``E<width>.13`` as Fortran writes it; ``NaN`` right-aligned."""
    return "NaN".rjust(width) if not np.isfinite(value) else f"{value:{width}.13E}"


def format_tn14(start, end, c20, c30, c20_sigma, c30_sigma, mean_c20, mean_c30, gm, radius,
                title="C20 and C30", notes=()):  # fmt: skip
    """TN-14 text (layout in the module docstring); ``gm`` [m^3 s^-2], ``radius`` [m]."""
    head = [f"Title: {title}", "Notes:", *(f"   {n}" for n in notes),
            "Format: (F7.1,F10.4,E22.13,2F8.4,E22.13,2F8.4,F8.1,F10.4)",
            "   Column  1: MJD of BEGINNING of solution data span",
            "   Column  2: Year and fraction of year of BEGINNING of solution data span",
            "   Column  3: Replacement C20", "   Column  4: Replacement C20 - mean C20 (1.0E-10)",
            "   Column  5: C20 Sigma (1.0E-10)", "   Column  6: Replacement C30",
            "   Column  7: Replacement C30 - mean C30 (1.0E-10)",
            "   Column  8: C30 Sigma (1.0E-10)", "   Column  9: MJD of END of solution data span",
            "   Column 10: Year and fraction of year of END of solution data span",
            "Constants:", f"   Mean C20: {mean_c20:+.12E}", f"   Mean C30: {mean_c30:+.12E}",
            f"         GM: {gm / 1e9:.10E} (km^3/s^2)", f"          R: {radius / 1e3:.4f} (km)",
            TN14_END]  # fmt: skip
    rows = []
    for s, e, a, b, sa, sb in zip(start, end, c20, c30, c20_sigma, c30_sigma, strict=True):
        d30 = (b - mean_c30) / E10 if np.isfinite(b) else np.nan
        rows.append(
            f"{datetime_to_mjd(s):7.1f}{decimal_year(s):10.4f}{_fortran_e(a, 22)}"
            f"{(a - mean_c20) / E10:8.4f}{sa / E10:8.4f}{_fortran_e(b, 22)}"
            + ("     NaN     NaN" if not np.isfinite(b) else f"{d30:8.4f}{sb / E10:8.4f}")
            + f"{datetime_to_mjd(e):8.1f}{decimal_year(e):10.4f}"
        )
    return "\n".join(head + rows) + "\n"


def format_tn13(start, end, c10, c11, s11, sigma=(0.0, 0.0, 0.0), love_k1=0.021,
                title="degree-1 coefficients", notes=()):  # fmt: skip
    """TN-13 text (layout in the module docstring) stating ``love_k1`` (CF frame)."""
    head = [f"TITLE: {title}", "DESCRIPTION:", *(f"\t{n}" for n in notes),
            "\tTo use for land applications, use these coefficients along with a Degree 1 Love "
            f"number (k1) = {love_k1}.", "FORMAT: GRCOF2 records as in the GSM files",
            f"{TN13_END} " + "=" * 80]  # fmt: skip
    rows = []
    for s, e, a, b, c in zip(start, end, c10, c11, s11, strict=True):
        b0, b1 = format_epoch(s), format_epoch(e)
        rows.append(f"{RECORD}    1   0 {a:+.9e} {0.0:+.9e} {sigma[0]:+.4e} {0.0:+.4e} {b0} {b1}")
        rows.append(
            f"{RECORD}    1   1 {b:+.9e} {c:+.9e} {sigma[1]:+.4e} {sigma[2]:+.4e} {b0} {b1}"
        )
    return "\n".join(head + rows) + "\n"


def write_tn14(path, *args, **kwargs):
    """Write :func:`format_tn14` text atomically."""
    return write_text(Path(path), format_tn14(*args, **kwargs), encoding="ascii")


def write_tn13(path, *args, **kwargs):
    """Write :func:`format_tn13` text atomically."""
    return write_text(Path(path), format_tn13(*args, **kwargs), encoding="ascii")
