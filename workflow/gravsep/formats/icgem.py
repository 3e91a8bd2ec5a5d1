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

import re
import warnings

import numpy as np

from gravsep.atomic import write_text
from gravsep.constants import GM, R_EARTH
from gravsep.formats.icgem_columns import parse_fixed
from gravsep.formats.textfile import excerpt, read_bytes

#: The highest degree read (EGM2008's): a header or a line claiming more is refused before
#: anything of that size is allocated (2 x 2191^2 float64 is 77 MB).
MAX_DEGREE = 2190
#: Bytes allowed for the header (comments included) and per coefficient line: generous bounds
#: of what a file of a given degree can hold (ESM lines have 70, with sigmas about 110).
HEADER_BYTES = 64 << 10
LINE_BYTES = 256
#: The longest line read; a longer one is refused (and quoted only in part).
MAX_LINE_BYTES = 4096
#: Keys of time-variable ICGEM 2.0 files, which this reader does not evaluate.
TIME_VARIABLE_KEYS = ("gfct", "trnd", "acos", "asin")


class ICGEMError(ValueError):
    """A coefficient file that does not follow the format; the message names file and line."""


def max_file_bytes(nmax):
    """The most bytes an ICGEM file of degree ``nmax`` can hold (header and lines, bounded)."""
    return HEADER_BYTES + (int(nmax) + 1) * (int(nmax) + 2) // 2 * LINE_BYTES


def _check_header(header, head, name):
    """Refuse a normalisation other than full (the header line is named)."""
    norm = header.get("norm")
    if norm is not None and norm.split()[0] != "fully_normalized":
        lines = head.decode("ascii", "replace").splitlines()
        lineno = next((i + 1 for i, ln in enumerate(lines) if ln.split()[:1] == ["norm"]), 0)
        raise ICGEMError(
            f"{name}, line {lineno}: header norm is {excerpt(norm)}; only fully_normalized "
            "coefficients are read"
        )


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
        raise ICGEMError(
            f"{name}: header key {key!r} is not a number: {excerpt(header[key])}"
        ) from None


def _diagnose(body, first_line, ncol, name):
    """Slow line-by-line check that names the first bad line (called only on failure)."""
    for i, raw in enumerate(body.split(b"\n")):
        line = raw.decode("ascii", "replace").strip()
        if not line:
            continue
        words = line.split()
        where = f"{name}, line {first_line + i}"
        if len(raw) > MAX_LINE_BYTES:
            raise ICGEMError(
                f"{where}: {len(raw)} bytes, longer than any coefficient line "
                f"({MAX_LINE_BYTES}): {excerpt(line)}"
            )
        if words[0] in TIME_VARIABLE_KEYS:
            raise ICGEMError(
                f"{where}: '{words[0]}' is a time-variable ICGEM 2.0 key; only static fields "
                "('gfc' lines) are read"
            )
        if words[0] != "gfc":
            raise ICGEMError(f"{where}: expected a 'gfc' line, got {excerpt(line)}")
        if len(words) != ncol + 1:
            raise ICGEMError(
                f"{where}: expected {ncol + 1} columns, got {len(words)}: {excerpt(line)}"
            )
        try:
            int(words[1]), int(words[2])
            [float(w.replace("D", "E").replace("d", "e")) for w in words[3:]]
        except ValueError:
            raise ICGEMError(f"{where}: not a number in {excerpt(line)}") from None
    raise ICGEMError(f"{name}: coefficient lines could not be parsed")


def read_icgem(source, nmax=None, max_degree=MAX_DEGREE, min_degree=0):
    """Read an ICGEM file.

    Every size is bounded before it is read or allocated: the file (or its decompressed
    gzip stream) by :func:`max_file_bytes` of ``nmax`` (else of ``max_degree``), a line by
    :data:`MAX_LINE_BYTES`, the degree by ``max_degree``. The header's ``norm`` must be
    ``fully_normalized`` or absent (as in the ESA ESM files).

    Parameters
    ----------
    source : path-like, bytes or str
        File path (gzip recognised by content), raw bytes, or the text itself.
    nmax : int, optional
        Expected maximum degree; the file must hold exactly degrees 0..nmax (every (n, m)
        once). Default: the header's ``max_degree``, else the largest n found.
    max_degree : int
        The highest degree accepted when ``nmax`` is not given.
    min_degree : int
        Lines of lower degrees may be absent (read as zero): 2 for Level-2 gravity fields,
        whose files may lack degrees 0 and 1. Every (n, m) from ``min_degree`` on must appear.

    Returns
    -------
    cs : numpy.ndarray
        ``(2, nmax+1, nmax+1)`` coefficients as in the file (dimensionless).
    header : dict
        Header keys as strings, plus the parsed numbers ``gm`` [m^3 s^-2], ``radius`` [m],
        ``max_degree``, ``errors`` and ``norm`` (``fully_normalized``).

    Raises
    ------
    ICGEMError
        The message names the file and, for a bad data line, the line number (1-based).
    """
    # path, bytes or str, gzip recognised by its magic bytes; at most the bytes a file of the
    # degree can hold are read or decompressed, more is refused
    limit = max_file_bytes(max_degree if nmax is None else nmax)
    data, name = read_bytes(source, limit, ICGEMError, ", more than a file of this degree can hold")
    match = _HEAD_END.search(data, 0, HEADER_BYTES + 64)
    if match is None:
        raise ICGEMError(
            f"{name}: no 'end_of_head' line in the first {HEADER_BYTES} bytes; is this an "
            "ICGEM file?"
        )
    header = _parse_header(data[: match.start()], name)
    _check_header(header, data[: match.start()], name)
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
        raise ICGEMError(
            f"{name}: header max_degree is not an integer: {excerpt(declared)}"
        ) from None
    if nmax is None:
        nmax = declared if declared is not None else int(n.max())
        if nmax > max_degree:
            raise ICGEMError(f"{name}: degree {nmax} exceeds the highest read ({max_degree})")
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
    if nlines != (nmax + 1) * (nmax + 2) // 2:
        _check_complete(counts, nmax, min_degree, name)
    cs = np.zeros((2, nmax + 1, nmax + 1))
    cs[0, n, m] = columns[0]
    cs[1, n, m] = columns[1]
    header["gm"] = _header_float(header, "earth_gravity_constant", GM, name)
    header["radius"] = _header_float(header, "radius", R_EARTH, name)
    header["max_degree"] = nmax
    header["errors"] = header.get("errors", "calibrated" if ncol == 6 else "no")
    header["norm"] = "fully_normalized"
    return cs, header


def _check_complete(counts, nmax, min_degree, name):
    """Refuse a missing (n, m) of degree ``min_degree`` or more, naming the first."""
    nn, mm = np.tril_indices(nmax + 1)
    absent = (counts[nn * (nmax + 1) + mm] == 0) & (nn >= min_degree)
    if absent.any():
        missing = np.flatnonzero(absent)[0]
        raise ICGEMError(
            f"{name}: {int(absent.sum())} coefficient line(s) missing for degree {nmax}, "
            f"first n={nn[missing]}, m={mm[missing]} (truncated file?)"
        )


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
    if numbers is None or numbers.size != nlines * ncol or not _lines_well_formed(body, ncol):
        _diagnose(body, first_line, ncol, name)
    table = numbers.reshape(nlines, ncol)
    n, m = table[:, 0], table[:, 1]
    if not (np.all(n == np.round(n)) and np.all(m == np.round(m))):
        _diagnose(body, first_line, ncol, name)
    values = table[:, 2:4]
    return n.astype(np.int64), m.astype(np.int64), values, nlines, ncol


def _lines_well_formed(body, ncol):
    """Whether every non-blank line has ``ncol + 1`` words and none is too long.

    A total count of numbers is not enough: a line with an extra number followed by one
    lacking a number would shift every value between them.
    """
    b = np.frombuffer(body, dtype=np.uint8)
    newline = b == 10
    space = newline | (b == 32) | (b == 9) | (b == 13)
    starts = ~space
    starts[1:] &= space[:-1]
    line = np.cumsum(newline) - newline
    words = np.bincount(line[starts], minlength=int(newline.sum()) + 1)
    bounds = np.concatenate([[-1], np.flatnonzero(newline), [b.size]])
    longest = int(np.diff(bounds).max()) - 1  # without the newline
    return bool(np.all((words == 0) | (words == ncol + 1))) and longest <= MAX_LINE_BYTES


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
                 comments=(), sigmas=None):  # fmt: skip
    """Format coefficients ``(2, N+1, N+1)`` as ICGEM text with D exponents.

    ``sigmas`` ``(2, N+1, N+1)``, optional: their standard deviations, written as the
    ``sigma C``, ``sigma S`` columns of every line (header ``errors formal``).

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
        ("errors", "no" if sigmas is None else "formal"),
    ]]  # fmt: skip
    lines = [*(f"# {c}" for c in comments), *head, "end_of_head"]
    if sigmas is None:
        lines += [f"gfc {a:4d} {b:4d} {x} {y}" for a, b, x, y in zip(n, m, c, s, strict=True)]
    else:
        sig = np.asarray(sigmas, dtype=np.float64)
        if sig.shape != cs.shape:
            raise ValueError(f"sigmas must have the shape of the coefficients {cs.shape}")
        sc, ss = _fortran(sig[0, n, m]), _fortran(sig[1, n, m])
        lines += [f"gfc {a:4d} {b:4d} {x} {y} {u} {v}"
                  for a, b, x, y, u, v in zip(n, m, c, s, sc, ss, strict=True)]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_icgem(path, cs, **kwargs):
    """Write :func:`format_icgem` text to ``path`` atomically (temporary name, then rename)."""
    return write_text(path, format_icgem(cs, **kwargs))
