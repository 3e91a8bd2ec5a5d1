"""Reading and writing ICGEM-style coefficient files (the format of the ESA ESM).

A file is a header that ends with a line ``end_of_head``, then one line per degree n and order m:
``gfc n m C_nm S_nm [sigma_C sigma_S]``. Numbers may carry Fortran exponents (``1.2D-10``).

Why not pyshtools' ``shio.read_icgem_gfc``: it returns zeros for a file without
``end_of_head``, fails on a trailing blank line, and is about 18 times slower per core than
this reader on degree-180 files (``benchmarks/bench_ingest.py``). Equally formatted files
(fixed columns, as format_icgem writes) are parsed column-wise on the bytes
(:mod:`gravsep.formats.icgem_columns`); others by a general whitespace parse; both check every
line and agree with pyshtools bit for bit on valid files. Why not a compiled parser: NumPy's
word-wise operations reach ~1.4 ms per degree-180 file without a build step or another
dependency.
"""

import gzip
import re
import warnings
from pathlib import Path

import numpy as np

from gravsep.atomic import write_text
from gravsep.constants import GM, R_EARTH
from gravsep.formats.icgem_columns import parse_fixed


class ICGEMError(ValueError):
    """A coefficient file that does not follow the format; the message names file and line."""


def _to_bytes(source):
    """Return (data, name) of a path, bytes or str; gzip recognised by its magic bytes."""
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "<bytes>"
    elif isinstance(source, str) and "\n" in source:
        data, name = source.encode("ascii", "replace"), "<string>"
    else:
        path = Path(source)
        name = str(path)
        data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise ICGEMError(f"{name}: corrupt gzip data ({err})") from None
    return data, name


_HEAD_END = re.compile(rb"^[ \t]*end_of_head\b[^\n]*(\n|$)", re.MULTILINE)
_FORTRAN = bytes.maketrans(b"Dd", b"Ee")


def _parse_header(head, name):
    header = {}
    for line in head.decode("ascii", "replace").splitlines():
        words = line.split()
        if len(words) >= 2 and not words[0].startswith("#"):
            header[words[0]] = " ".join(words[1:])
    return header


def _header_float(header, key, default, name):
    if key not in header:
        return default
    try:
        return float(header[key].replace("D", "E").replace("d", "e"))
    except ValueError:
        raise ICGEMError(f"{name}: header key {key!r} is not a number: {header[key]!r}") from None


def _diagnose(body, first_line, ncol, name):
    """Slow line-by-line check that names the first bad line (called only on failure)."""
    for i, raw in enumerate(body.split(b"\n")):
        line = raw.decode("ascii", "replace").strip()
        if not line:
            continue
        words = line.split()
        where = f"{name}, line {first_line + i}"
        if words[0] != "gfc":
            raise ICGEMError(f"{where}: expected a 'gfc' line, got {line!r}")
        if len(words) != ncol + 1:
            raise ICGEMError(f"{where}: expected {ncol + 1} columns, got {len(words)}: {line!r}")
        try:
            int(words[1]), int(words[2])
            [float(w.replace("D", "E").replace("d", "e")) for w in words[3:]]
        except ValueError:
            raise ICGEMError(f"{where}: not a number in {line!r}") from None
    raise ICGEMError(f"{name}: coefficient lines could not be parsed")


def read_icgem(source, nmax=None):
    """Read an ICGEM file.

    Parameters
    ----------
    source : path-like, bytes or str
        File path (gzip recognised by content), raw bytes, or the text itself.
    nmax : int, optional
        Expected maximum degree; the file must hold exactly degrees 0..nmax (every (n, m)
        once). Default: the header's ``max_degree``, else the largest n found.

    Returns
    -------
    cs : numpy.ndarray
        ``(2, nmax+1, nmax+1)`` coefficients as in the file (dimensionless).
    header : dict
        Header keys as strings, plus the parsed numbers ``gm`` [m^3 s^-2], ``radius`` [m],
        ``max_degree`` and ``errors``.

    Raises
    ------
    ICGEMError
        The message names the file and, for a bad data line, the line number (1-based).
    """
    data, name = _to_bytes(source)
    match = _HEAD_END.search(data)
    if match is None:
        raise ICGEMError(f"{name}: no 'end_of_head' line; is this an ICGEM file?")
    header = _parse_header(data[: match.start()], name)
    first_line = data.count(b"\n", 0, match.end()) + 1
    # the gfc block without leading and trailing blank lines, as offsets (no copy)
    start, stop = match.end(), len(data)
    while start < stop and data[start] == 10:
        start += 1
    while stop > start and data[stop - 1] == 10:
        stop -= 1
    fast = parse_fixed(data, start, stop + 1) if start < stop < len(data) else None
    if fast is not None:
        n, m, columns, ncol = fast
        nlines = len(n)
    else:
        n, m, values, nlines, ncol = _parse_general(data[match.end() :], first_line, name)
        columns = [values[:, 0], values[:, 1]]

    def line_of(row):
        body = data[match.end() :]
        return first_line + body.count(b"\n", 0, _nth(body, b"gfc", row))

    if not (np.isfinite(columns[0]).all() and np.isfinite(columns[1]).all()):
        bad = ~(np.isfinite(columns[0]) & np.isfinite(columns[1]))
        raise ICGEMError(
            f"{name}, line {line_of(int(np.flatnonzero(bad)[0]))}: NaN or infinite coefficient"
        )
    badnm = (n < 0) | (m < 0) | (m > n)
    if badnm.any():
        i = int(np.flatnonzero(badnm)[0])
        raise ICGEMError(f"{name}, line {line_of(i)}: invalid degree/order n={n[i]}, m={m[i]}")
    declared = header.get("max_degree")
    try:
        declared = int(declared) if declared is not None else None
    except ValueError:
        raise ICGEMError(f"{name}: header max_degree is not an integer: {declared!r}") from None
    if nmax is None:
        nmax = declared if declared is not None else int(n.max())
    elif declared is not None and declared != nmax:
        raise ICGEMError(f"{name}: header max_degree is {declared}, expected {nmax}")
    if n.max() > nmax:
        i = int(np.argmax(n))
        raise ICGEMError(f"{name}, line {line_of(i)}: degree {n[i]} exceeds maximum {nmax}")
    index = n * (nmax + 1) + m
    counts = np.bincount(index, minlength=(nmax + 1) ** 2)
    if (counts > 1).any():
        dup = int(np.flatnonzero(counts > 1)[0])
        rows = np.flatnonzero(index == dup)
        raise ICGEMError(
            f"{name}, line {line_of(int(rows[1]))}: coefficient n={dup // (nmax + 1)}, "
            f"m={dup % (nmax + 1)} appears again (first on line {line_of(int(rows[0]))})"
        )
    expected = (nmax + 1) * (nmax + 2) // 2
    if nlines != expected:
        nn, mm = np.tril_indices(nmax + 1)
        missing = np.flatnonzero(counts[nn * (nmax + 1) + mm] == 0)[0]
        raise ICGEMError(
            f"{name}: {expected - nlines} coefficient line(s) missing for degree {nmax}, "
            f"first n={nn[missing]}, m={mm[missing]} (truncated file?)"
        )
    cs = np.zeros((2, nmax + 1, nmax + 1))
    cs[0, n, m] = columns[0]
    cs[1, n, m] = columns[1]
    header["gm"] = _header_float(header, "earth_gravity_constant", GM, name)
    header["radius"] = _header_float(header, "radius", R_EARTH, name)
    header["max_degree"] = nmax
    header["errors"] = header.get("errors", "calibrated" if ncol == 6 else "no")
    return cs, header


def _parse_general(body, first_line, name):
    """``(n, m, values, nlines, ncol)`` of any valid gfc block (whitespace-separated)."""
    nlines = body.count(b"gfc")
    if nlines == 0:
        raise ICGEMError(f"{name}: no 'gfc' coefficient lines after 'end_of_head'")
    firstdata = body.lstrip().split(b"\n", 1)[0].split()
    ncol = len(firstdata) - 1
    if ncol not in (4, 6):
        _diagnose(body, first_line, 4, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            numbers = np.fromstring(body.replace(b"gfc", b"   ").translate(_FORTRAN), sep=" ")
        except (DeprecationWarning, ValueError):
            numbers = None
    nonblank = sum(1 for ln in body.split(b"\n") if ln.strip())
    if numbers is None or numbers.size != nlines * ncol or nonblank != nlines:
        _diagnose(body, first_line, ncol, name)
    table = numbers.reshape(nlines, ncol)
    n, m = table[:, 0], table[:, 1]
    if not (np.all(n == np.round(n)) and np.all(m == np.round(m))):
        _diagnose(body, first_line, ncol, name)
    values = table[:, 2:4]
    return n.astype(np.int64), m.astype(np.int64), values, nlines, ncol


def _nth(data, needle, k):
    """Offset of the k-th (0-based) occurrence of needle in data."""
    pos = -1
    for _ in range(k + 1):
        pos = data.index(needle, pos + 1)
    return pos


def _fortran(values):
    """Format floats as 19-character Fortran D-exponent strings, 12 decimals."""
    return [f"{v: .12E}".replace("E", "D") for v in values]


def format_icgem(cs, product_type="gravity_field", modelname="", gm=GM, radius=R_EARTH,
                 comments=()):  # fmt: skip
    """Format coefficients ``(2, N+1, N+1)`` as ICGEM text with D exponents.

    Returns
    -------
    str
        Header (ending in ``end_of_head``) and one ``gfc`` line per (n, m), n ascending, then m.
    """
    cs = np.asarray(cs, dtype=np.float64)
    nmax = cs.shape[-1] - 1
    if cs.shape != (2, nmax + 1, nmax + 1):
        raise ValueError(f"coefficients must have shape (2, N+1, N+1), got {cs.shape}")
    n, m = np.tril_indices(nmax + 1)
    c = _fortran(cs[0, n, m])
    s = _fortran(cs[1, n, m])
    head = [f"{k} {v}" for k, v in [
        ("product_type", product_type),
        ("modelname", modelname or "unnamed"),
        ("earth_gravity_constant", f"{gm:.13E}".replace("E", "D")),
        ("radius", f"{radius:.13E}".replace("E", "D")),
        ("max_degree", nmax),
        ("norm", "fully_normalized"),
        ("errors", "no"),
    ]]  # fmt: skip
    lines = [*(f"# {c}" for c in comments), *head, "end_of_head"]
    lines += [f"gfc {a:4d} {b:4d} {x} {y}" for a, b, x, y in zip(n, m, c, s, strict=True)]
    return "\n".join(lines) + "\n"


def write_icgem(path, cs, **kwargs):
    """Write :func:`format_icgem` text to ``path`` atomically (temporary name, then rename)."""
    return write_text(path, format_icgem(cs, **kwargs))
