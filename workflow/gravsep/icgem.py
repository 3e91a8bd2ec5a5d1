"""Reading and writing ICGEM-style coefficient files (the format of the ESA ESM).

A file is a header that ends with a line ``end_of_head``, then one line per degree n and order m:
``gfc n m C_nm S_nm [sigma_C sigma_S]``. Numbers may carry Fortran exponents (``1.2D-10``).

Why not pyshtools' ``shio.read_icgem_gfc``: it returns zeros for a file without
``end_of_head``, fails on a trailing blank line, and is 6-7 times slower per core than this
reader on degree-180 files (``benchmarks/bench_ingest.py``). Equally formatted files (fixed
columns, as format_icgem writes) are parsed column-wise on the bytes; others by a general
whitespace parse; both check every line and agree with pyshtools bit for bit on valid files.
"""

import gzip
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from .constants import GM, R_EARTH


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
_TINY = np.finfo(np.float64).tiny


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
    fast = _parse_fixed(data, start, stop + 1) if start < stop < len(data) else None
    if fast is not None:
        n, m, values = fast
        nlines, ncol = len(n), 2 + values.shape[1]
        values = values[:, :2]
    else:
        n, m, values, nlines, ncol = _parse_general(data[match.end() :], first_line, name)

    def line_of(row):
        body = data[match.end() :]
        return first_line + body.count(b"\n", 0, _nth(body, b"gfc", row))

    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
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
    cs[0, n, m] = values[:, 0]
    cs[1, n, m] = values[:, 1]
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


# ---------------------------------------------------------------- fast path
#
# ICGEM files are usually written with one fixed format: every data line has the same length
# and each number the same layout (``gfc  n  m  +d.ddddddddddddD-dd ...``). Such a file is
# parsed column-wise on the bytes, without a Python loop over lines: the layout of the first
# line is a template that every line must match byte class by byte class (digit, sign,
# exponent letter, the literal ``gfc``, ``.`` and separators); anything else takes the general
# path (:func:`_parse_general`), which names a bad line. Decimal to binary conversion is
# correctly rounded, so the result is bit for bit that of ``float()``:
# - mantissa M < 2**53 and |k| <= 22: M * 10**k is one IEEE operation on exact operands
#   (Clinger's fast path);
# - otherwise, where the platform's long double is wider (x86: 64 bits) and 10**|k| is exact
#   in it: one rounding to long double, then to double. Double rounding can only differ from
#   a single rounding where the long double result is exactly halfway between two doubles;
#   those values, and subnormal or overflowing ones, are converted by ``float()`` one by one.

_LD_BITS = np.finfo(np.longdouble).nmant + 1
#: x87 extended precision (x86-64 Linux): 64-bit significand in the first 8 of 16 bytes.
_X87 = _LD_BITS == 64 and np.dtype(np.longdouble).itemsize == 16 and sys.byteorder == "little"
_LD_MAXPOW = max((j for j in range(64) if 5**j < 2**_LD_BITS), default=0) if _LD_BITS > 53 else 0


def _pow10_ld():
    out, p = [], np.longdouble(1)
    for _ in range(_LD_MAXPOW + 1):
        out.append(p)
        p = p * np.longdouble(10)  # exact: 10**j = 2**j * 5**j with 5**j < 2**_LD_BITS
    return np.array(out, dtype=np.longdouble)


_POW10_LD = _pow10_ld()
_POW10_F8 = 10.0 ** np.arange(23)  # exact
_TOKEN = re.compile(rb"\S+")
_FLOAT_TEMPLATE = re.compile(rb"([+-]?)(\d+)\.(\d+)([EeDd])([+-])(\d+)")


def _digits(block):
    """Integer value of rows of ASCII digits ``(rows, w)``; blanks count as leading zeros."""
    w = block.shape[1]
    if w <= 15:  # every partial sum is an integer below 2**53: exact in float64
        d = block.astype(np.float64)
        d -= 48.0
        d[block == 32] = 0.0
        return (d @ 10.0 ** np.arange(w - 1, -1, -1)).astype(np.int64)
    d = block.astype(np.int64) - 48
    d[block == 32] = 0
    return d @ (10 ** np.arange(w - 1, -1, -1, dtype=np.int64))


def _decimal_to_double(mant, k, neg, token):
    """Correctly rounded ``(-1)**neg * mant * 10**k`` (see the notes above)."""
    out = np.empty(mant.shape)
    fits = mant < (1 << 53)
    mf = mant.astype(np.float64)
    up = fits & (k >= 0) & (k <= 22)
    down = fits & (k < 0) & (k >= -22)
    out[up] = mf[up] * _POW10_F8[k[up]]
    out[down] = mf[down] / _POW10_F8[-k[down]]
    slow = ~(up | down)
    wide = slow & (np.abs(k) <= _LD_MAXPOW) & (mant > 0)
    if wide.any():
        idx = np.flatnonzero(wide)
        kk = k[idx]
        x = mant[idx].astype(np.longdouble)  # exact: mant < 10**18 < 2**63
        neg_k = kk < 0
        pw = _POW10_LD[np.abs(kk)]
        if neg_k.all():
            x /= pw
        else:
            x = np.where(neg_k, x / pw, x * pw)
        with np.errstate(over="ignore"):
            d = x.astype(np.float64)
        ok = (d >= _TINY) & (d < np.inf)
        if _X87:  # the 64-bit significand is stored explicitly in the low 8 bytes
            low = x.view(np.uint64)[::2] & 0x7FF
            ok &= low != 0x400  # bits below the double's 53: exactly halfway
        else:
            r = (x - d.astype(np.longdouble)).astype(np.float64)  # exact: a few bits
            half = np.spacing(d) / 2
            ok &= (r != half) & (r != -half) & (r != half / 2) & (r != -half / 2)
        out[idx[ok]] = d[ok]
        slow[idx[ok]] = False
    for i in np.flatnonzero(slow):
        out[i] = float(token(i).translate(_FORTRAN))
    return np.where(neg, -out, out)


def _load8(data, offset, width, nrows):
    """Little-endian uint64 of the 8 bytes at ``offset`` of each of ``nrows`` lines (a view)."""
    return np.ndarray((nrows,), dtype="<u8", buffer=data, offset=offset, strides=(width,))


def _eight_digits(x, ndigits):
    """Value of the last ``ndigits`` ASCII digits in each uint64 (first byte = first char)."""
    if ndigits < 8:  # the leading bytes belong to something else: make them "0"
        keep = np.uint64(((1 << (8 * ndigits)) - 1) << (8 * (8 - ndigits)))
        x = (x & keep) | (np.uint64(0x3030303030303030) & ~keep)
    x = (x & np.uint64(0x0F0F0F0F0F0F0F0F)) * np.uint64(2561) >> np.uint64(8)
    x = (x & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601) >> np.uint64(16)
    x = (x & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001) >> np.uint64(32)
    return x.astype(np.int64)


def _run_digits(data, base, width, nrows, a, b):
    """Value of the digits in columns ``a:b`` (at most 16, checked to be digits) of each line
    starting at ``base`` (SWAR: eight digits per 64-bit word, no per-digit arrays)."""
    n = b - a
    if n <= 8:
        return _eight_digits(_load8(data, base + b - 8, width, nrows), n)
    low = _eight_digits(_load8(data, base + b - 8, width, nrows), 8)
    high = _eight_digits(_load8(data, base + b - 16, width, nrows), n - 8)
    return high * 100000000 + low


def _all_digits(block):
    return bool((block - 48 < 10).all())  # uint8 arithmetic wraps below "0"


def _parse_fixed(data, start, stop):
    """``(n, m, values)`` of equally formatted gfc lines ``data[start:stop]`` (ending in a
    newline), or None if they are not."""
    width = data.find(b"\n", start, stop) + 1 - start
    size = stop - start
    if width < 2 or size % width or data.count(b"\n", start, stop) != size // width:
        return None
    rows = np.frombuffer(data, dtype=np.uint8, count=size, offset=start).reshape(-1, width)
    first = data[start : start + width]
    toks = list(_TOKEN.finditer(first))
    if len(toks) not in (5, 7) or toks[0].group() != b"gfc":
        return None
    literal = np.zeros(width, dtype=bool)  # columns that must equal the first line's byte
    literal[: toks[0].end()] = True
    literal[toks[-1].end() :] = True  # trailing blanks, CR, LF
    if first[toks[-1].end() : -1].strip(b" \t\r"):
        return None
    ints, floats = [], []
    for i, tok in enumerate(toks[1:], start=1):
        prev = toks[i - 1].end()
        literal[prev] = True  # at least one separating blank
        if i <= 2:
            if not tok.group().isdigit():
                return None
            ints.append((prev + 1, tok.end()))
            continue
        match = _FLOAT_TEMPLATE.fullmatch(tok.group())
        if match is None:
            return None
        sign = tok.start() if match.group(1) else tok.start() - 1
        if sign <= prev:
            return None
        literal[prev:sign] = True
        a = sign + 1
        b = a + len(match.group(2))
        c = b + 1 + len(match.group(3))
        if c - a - 1 > 18:
            return None
        literal[b] = True  # the decimal point
        floats.append((sign, a, b, c, tok.end()))
    same = rows == np.frombuffer(first, dtype=np.uint8)
    if not np.logical_or(same, ~literal, out=same).all():
        return None
    n_m = []
    for a, b in ints:
        block = rows[:, a:b]
        d = (block >= 48) & (block <= 57)
        # right-aligned: blanks, then digits to the end of the field
        if not (d[:, -1].all() and (d | (block == 32)).all() and (d[:, 1:] >= d[:, :-1]).all()):
            return None
        if b - a <= 8 and start + b >= 8:  # blanks count as zeros in the SWAR sum
            n_m.append(_run_digits(data, start, width, len(rows), a, b))
        else:
            n_m.append(_digits(block))
    values = []
    for sign, a, b, c, end in floats:
        if end - c - 2 > 8:  # more than 8 exponent digits
            return None
        s, e, es = rows[:, sign], rows[:, c], rows[:, c + 1]
        if not (
            _all_digits(rows[:, a:b]) and _all_digits(rows[:, b + 1 : c])
            and _all_digits(rows[:, c + 2 : end])
            and ((s == 32) | (s == 43) | (s == 45)).all()
            and (((e | 32) == 101) | ((e | 32) == 100)).all()
            and ((es == 43) | (es == 45)).all()
        ):  # fmt: skip
            return None
        nrows = len(rows)
        if c - b - 1 <= 16 and start + a >= 16:
            ipart = _run_digits(data, start, width, nrows, a, b) if b - a <= 2 else None
            if ipart is None:
                mant = _digits(np.concatenate([rows[:, a:b], rows[:, b + 1 : c]], axis=1))
            else:
                frac = _run_digits(data, start, width, nrows, b + 1, c)
                mant = ipart * 10 ** (c - b - 1) + frac
        else:
            mant = _digits(np.concatenate([rows[:, a:b], rows[:, b + 1 : c]], axis=1))
        expo = _run_digits(data, start, width, nrows, c + 2, end)
        k = np.where(es == 45, -expo, expo) - (c - b - 1)

        def token(i, a=a, end=end):
            return data[start + i * width + a : start + i * width + end]

        values.append(_decimal_to_double(mant, k, s == 45, token))
    return n_m[0], n_m[1], np.stack(values, axis=1)


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
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(format_icgem(cs, **kwargs))
    tmp.replace(path)
