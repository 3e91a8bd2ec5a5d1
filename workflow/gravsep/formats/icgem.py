"""Reading and writing ICGEM-style coefficient files (the format of the ESA ESM).

A file is a header that ends with a line ``end_of_head``, then one line per degree n and order m:
``gfc n m C_nm S_nm [sigma_C sigma_S]``. Numbers may carry Fortran exponents (``1.2D-10``).

Why not pyshtools' ``shio.read_icgem_gfc``: it returns zeros for a file without
``end_of_head``, fails on a trailing blank line, and is about 18 times slower per core than
this reader on degree-180 files (``benchmarks/bench_ingest.py``). Equally formatted files
(fixed columns, as format_icgem writes) are parsed column-wise on the bytes; others by a
general whitespace parse; both check every line and agree with pyshtools bit for bit on valid
files. Why not a compiled parser: NumPy's word-wise operations reach ~1.4 ms per degree-180
file without a build step or another dependency.
"""

import functools
import gzip
import re
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

from gravsep.atomic import write_text
from gravsep.constants import GM, R_EARTH


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


# ---------------------------------------------------------------- fast path
#
# ICGEM files are usually written with one fixed format: every data line has the same length
# and each number the same layout (``gfc  n  m  +d.ddddddddddddD-dd ...``). Such a file is
# parsed column-wise on the bytes, without a Python loop over lines. The first line is a
# template: every byte of every line is checked against the class of its column (the literal
# byte of the first line, a digit, a sign, an exponent letter, a right-aligned integer field);
# anything else takes the general path (:func:`_parse_general`), which names a bad line.
#
# The checks and the digit sums work on 64-bit words, eight bytes at a time (SWAR): a line's
# bytes are read as little-endian unsigned integers (one strided copy per word), so one NumPy
# operation handles eight columns of every line.
#
# Decimal to binary conversion is correctly rounded, so the result is bit for bit that of
# ``float()``:
# - x86 (x87 long double, 64-bit significand): M * 10**k is computed in long double with
#   10**k rounded to 64 bits, so the product is within 2 units of its last bit from the exact
#   value; rounding it to double gives the correctly rounded double unless the exact value
#   and the product lie on either side of a point halfway between two doubles. Products
#   within 2 units of such a point (about 1 value in 400), subnormal and overflowing results
#   are converted by ``float()`` one by one.
# - elsewhere (no x87, e.g. ARM): M < 2**53 and |k| <= 22 is one IEEE operation on exact
#   operands (Clinger's fast path); other M < 2**53, |k| <= 290 in double-double arithmetic:
#   10**k as the sum of two doubles, M * 10**k as an exact product plus a correction (Dekker's
#   splitting), within 2**-100 of the exact value; its rounding to double is correct unless
#   that close to a halfway point (exact ties only, in practice), which goes to ``float()``,
#   as do larger mantissas and exponents.

_LD_BITS = np.finfo(np.longdouble).nmant + 1
#: x87 extended precision (x86-64 Linux): 64-bit significand in the first 8 of 16 bytes.
_X87 = _LD_BITS == 64 and np.dtype(np.longdouble).itemsize == 16 and sys.byteorder == "little"
_K_RANGE = 400  # 10**k tabulated for |k| <= 400; beyond that the result is 0 or inf anyway
_DD_RANGE = 290  # double-double products stay clear of overflow and underflow for |k| <= 290


def _round_to_bits(num, den, bits):
    """``(q, e)``: ``q * 2**e`` is ``num / den`` rounded to ``bits`` significant bits, ties to
    even, ``2**(bits-1) <= q < 2**bits`` (exact integer arithmetic)."""
    e = num.bit_length() - den.bit_length() - bits
    while True:
        a, b = (num, den << e) if e >= 0 else (num << -e, den)
        q, r = divmod(a, b)
        if q >= 1 << bits:
            e += 1
        elif q < 1 << (bits - 1):
            e -= 1
        else:
            break
    if 2 * r > b or (2 * r == b and q & 1):
        q += 1
        if q == 1 << bits:
            q, e = q >> 1, e + 1
    return q, e


def _pow10_x87():
    """10**k for k in -_K_RANGE.._K_RANGE, each rounded to 64 significant bits."""
    out = np.empty(2 * _K_RANGE + 1, dtype=np.longdouble)
    for i, k in enumerate(range(-_K_RANGE, _K_RANGE + 1)):
        q, e = _round_to_bits(10**k if k >= 0 else 1, 1 if k >= 0 else 10**-k, 64)
        exact = np.longdouble(q >> 32) * np.longdouble(2**32) + np.longdouble(q & 0xFFFFFFFF)
        out[i] = np.ldexp(exact, e)
    return out


def _split(a):
    """Dekker's splitting: ``a = high + low``, each with at most 26 significant bits."""
    c = a * 134217729.0  # 2**27 + 1
    high = c - (c - a)
    return high, a - high


@functools.cache
def _pow10_dd():
    """10**k for |k| <= _DD_RANGE as double-double ``(high, low)``, high split as well
    (built on first use: x86 does not need it)."""
    high, low = [], []
    for k in range(-_DD_RANGE, _DD_RANGE + 1):
        exact = Fraction(10) ** k
        high.append(float(exact))  # correctly rounded
        low.append(float(exact - Fraction(high[-1])))
    high = np.array(high)
    return (high, *_split(high), np.array(low))


_POW10_X87 = _pow10_x87() if _X87 else None
_POW10_F8 = 10.0 ** np.arange(23)  # exact
_TOKEN = re.compile(rb"\S+")
_FLOAT_TEMPLATE = re.compile(rb"([+-]?)(\d+)\.(\d+)([EeDd])([+-])(\d+)")
_U64 = np.uint64


def _bytes_mask(byte, columns, offset):
    """Integer with ``byte`` in the byte lanes of ``columns`` (0-based) of a word at ``offset``."""
    return sum(byte << (8 * (c - offset)) for c in columns if offset <= c < offset + 8)


def _decimal_to_double(mant, k, neg, token):
    """Correctly rounded ``(-1)**neg * mant * 10**k`` (see the notes above).

    ``mant`` (int64, below 10**18) and ``k`` (int64) are arrays; ``token(i)`` returns the
    text of number i for the few values that need ``float()``.
    """
    if _X87:
        kmin, kmax = int(k.min()), int(k.max())
        j = k + _K_RANGE
        if kmin < -_K_RANGE or kmax > _K_RANGE:  # beyond the table: marked slow below
            np.clip(j, 0, 2 * _K_RANGE, out=j)
        x = mant.astype(np.longdouble)  # exact: mant < 10**18 < 2**63
        x *= _POW10_X87[j]
        with np.errstate(over="ignore"):
            out = x.astype(np.float64)
        # the 11 bits of the 64-bit significand below a double's 53 (stored in the low word)
        low = x.view(np.uint64)[::2] & _U64(0x7FF)
        low -= _U64(0x400 - 2)  # wraps below: within 2 units of a double's halfway point
        slow = low <= _U64(4)
        if kmin < -280 or kmax > 280:  # subnormal, overflowing or beyond the table
            slow |= ((out < _TINY) & (mant != 0)) | (out == np.inf)
            slow |= (k < -_K_RANGE) | (k > _K_RANGE)
    else:
        out, slow = _decimal_to_double_portable(mant, k)
    for i in np.flatnonzero(slow):
        out[i] = float(token(i).translate(_FORTRAN))
    bits = out.view(np.uint64)
    bits |= neg.astype(np.uint64) << _U64(63)  # the sign bit
    return out


def _decimal_to_double_portable(mant, k):
    """``(values, slow)`` without x87 long double; ``slow`` marks values not done."""
    out = np.zeros(mant.shape)
    slow = np.ones(mant.shape, dtype=bool)
    fits = mant < (1 << 53)
    mf = mant.astype(np.float64)  # exact where fits
    up = fits & (k >= 0) & (k <= 22)
    down = fits & (k < 0) & (k >= -22)
    out[up] = mf[up] * _POW10_F8[k[up]]
    out[down] = mf[down] / _POW10_F8[-k[down]]
    slow[up | down] = False
    dd = fits & ~(up | down) & (np.abs(k) <= _DD_RANGE)
    if dd.any():
        idx = np.flatnonzero(dd)
        m = mf[idx]
        j = k[idx] + _DD_RANGE
        high, high_a, high_b, low = (t[j] for t in _pow10_dd())
        p = m * high
        m_a, m_b = _split(m)
        e = ((m_a * high_a - p) + m_a * high_b + m_b * high_a) + m_b * high_b  # m*high = p + e
        s = e + m * low
        r = p + s
        v = r - p
        t = (p - (r - v)) + (s - v)  # r + t = p + s exactly (Knuth's two-sum)
        gap = np.where(t >= 0, np.nextafter(r, np.inf) - r, r - np.nextafter(r, -np.inf))
        doubt = np.abs(t) >= gap / 2 - r * 2.0**-100  # a halfway point within the error
        doubt |= (r < 2.0**-960) & (m != 0)  # near the subnormal range: parts underflow
        out[idx] = r
        slow[idx] = doubt
    return out, slow


class _Lines:
    """Equally long lines ``data[start:start + nrows*width]`` read as 64-bit words."""

    def __init__(self, data, start, width, nrows):
        self.data, self.start, self.width, self.nrows = data, start, width, nrows

    def word(self, offset):
        """Little-endian uint64 of bytes ``offset:offset+8`` of every line (a copy).

        ``offset`` may be negative down to ``-start`` (the bytes before the first line)."""
        view = np.ndarray((self.nrows,), dtype="<u8", buffer=self.data,
                          offset=self.start + offset, strides=(self.width,))  # fmt: skip
        return view.astype(np.uint64)

    def digits(self, a, b):
        """Value of the digit columns ``a:b`` (at most 18, already checked) of every line."""
        value, scale = None, 1
        while b > a:
            n = min(8, b - a)
            part = _eight_digits(self.word(b - 8), n)
            value = part if value is None else value + part * scale
            scale *= 10**n
            b -= n
        return value


def _eight_digits(x, ndigits):
    """Value of the last ``ndigits`` ASCII digits (blanks count as 0) in each uint64, whose
    first byte is the first character; ``x`` is overwritten."""
    if ndigits < 8:  # the leading bytes belong to something else: clear them
        x &= _U64(((1 << (8 * ndigits)) - 1) << (8 * (8 - ndigits)))
    x &= _U64(0x0F0F0F0F0F0F0F0F)
    x *= _U64(2561)
    x >>= _U64(8)
    x &= _U64(0x00FF00FF00FF00FF)
    x *= _U64(6553601)
    x >>= _U64(16)
    x &= _U64(0x0000FFFF0000FFFF)
    x *= _U64(42949672960001)
    x >>= _U64(32)
    return x.view(np.int64)


def _right_aligned(lines, a, b):
    """Value of the integer field ``a:b`` (at most 8 columns: blanks, then at least one
    digit) of every line, or None if a line does not have that form."""
    nb = b - a
    keep = ((1 << (8 * nb)) - 1) << (8 * (8 - nb))
    x = lines.word(b - 8)
    x &= _U64(keep)
    z = x ^ _U64(0x2020202020202020 & keep)  # blank -> 0x00, digit -> 0x10..0x19
    g = (z >> _U64(4)) & _U64(0x0101010101010101)  # 1 in the lanes of digits
    g *= _U64(0xFF)
    ok = (z & _U64(0xE0E0E0E0E0E0E0E0)) == 0  # every lane below 0x20
    ok &= (z & ~g) == 0  # non-digit lanes are blanks
    ok &= (((z & g & _U64(0x0F0F0F0F0F0F0F0F)) + (g & _U64(0x0606060606060606)))
           & _U64(0x1010101010101010)) == 0  # fmt: skip  # digit lanes 0..9
    ok &= (g >> _U64(56)) == _U64(0xFF)  # the last column is a digit
    neg_g = ~g + _U64(1)  # -g: a power of two exactly when the digits are one top-aligned run
    ok &= (neg_g & (neg_g - _U64(1))) == 0
    if not ok.all():
        return None
    return _eight_digits(x, nb)


def _parse_fixed(data, start, stop):
    """``(n, m, [C, S], ncol)`` of equally formatted gfc lines ``data[start:stop]`` (ending in a
    newline; ``start >= 8``), or None if they are not."""
    width = data.find(b"\n", start, stop) + 1 - start
    size = stop - start
    if width < 8 or start < 8 or size % width:
        return None
    first = data[start : start + width]
    toks = list(_TOKEN.finditer(first))
    if len(toks) not in (5, 7) or toks[0].group() != b"gfc":
        return None
    if first[toks[-1].end() : -1].strip(b" \t\r"):
        return None
    literal = set(range(width))  # columns that must equal the first line's byte
    digit, letter, ints, floats = set(), set(), [], []
    for i, tok in enumerate(toks[1:], start=1):
        prev = toks[i - 1].end()  # at least one separating blank there
        if i <= 2:
            if not tok.group().isdigit() or tok.end() - prev - 1 > 8:
                return None
            ints.append((prev + 1, tok.end()))
            literal -= set(range(prev + 1, tok.end()))
            continue
        match = _FLOAT_TEMPLATE.fullmatch(tok.group())
        if match is None:
            return None
        sign = tok.start() if match.group(1) else tok.start() - 1  # blank, + or -
        if sign <= prev:
            return None
        a = sign + 1
        b = a + len(match.group(2))
        c = b + 1 + len(match.group(3))
        end = tok.end()
        if c - a - 1 > 18 or end - c - 2 > 8:
            return None
        digit |= {*range(a, b), *range(b + 1, c), *range(c + 2, end)}
        letter.add(c)
        literal -= {sign, *range(a, b), *range(b + 1, c), c, c + 1, *range(c + 2, end)}
        floats.append((sign, a, b, c, end))
    lines = _Lines(data, start, width, size // width)
    # every byte: literal (the first line's), digit, or exponent letter (b | 0x21 == 'e');
    # signs and integer fields are checked below
    offsets = [*range(0, width - 7, 8), *([width - 8] if width % 8 else [])]
    words = {}
    for o in offsets:
        w = words[o] = lines.word(o)
        lit_mask = _bytes_mask(0xFF, literal | letter, o)
        lit_value = _bytes_mask(0x65, letter, o) + sum(
            first[c] << (8 * (c - o)) for c in literal if o <= c < o + 8
        )
        bad = ((w | _U64(_bytes_mask(0x21, letter, o))) & _U64(lit_mask)) ^ _U64(lit_value)
        dmask = _bytes_mask(0xFF, digit, o)
        if dmask:
            high, three = _U64(dmask & 0xF0F0F0F0F0F0F0F0), _U64(dmask & 0x3030303030303030)
            bad |= (w & high) ^ three  # 0x30..0x3F
            bad |= (((w & _U64(dmask)) + _U64(dmask & 0x0606060606060606)) & high) ^ three
        if bad.any():
            return None

    def column(c):
        o = max(x for x in offsets if x <= c)
        return (words[o] >> _U64(8 * (c - o))) & _U64(0xFF)

    n_m = []
    for a, b in ints:
        value = _right_aligned(lines, a, b)
        if value is None:
            return None
        n_m.append(value)
    columns = []
    for j, (sign, a, b, c, end) in enumerate(floats):
        s, es = column(sign), column(c + 1)
        neg = s == 45
        if not (((s == 32) | (s == 43) | neg).all() and ((es == 43) | (es == 45)).all()):
            return None
        if j >= 2:  # sigma columns: checked, not converted (the reader returns C and S)
            continue
        mant = lines.digits(a, b)
        if c > b + 1:
            mant *= 10 ** (c - b - 1)
            mant += lines.digits(b + 1, c)
        k = lines.digits(c + 2, end)
        np.negative(k, where=es == 45, out=k)
        k -= c - b - 1

        def token(i, a=a, end=end):
            return data[start + i * width + a : start + i * width + end]

        columns.append(_decimal_to_double(mant, k, neg, token))
    return n_m[0], n_m[1], columns, 2 + len(floats)


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
