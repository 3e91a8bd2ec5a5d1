"""Column-wise parse of equally formatted ICGEM coefficient lines (the reader's fast path).

ICGEM files are usually written with one fixed format: every data line has the same length
and each number the same layout (``gfc  n  m  +d.ddddddddddddD-dd ...``). Such a file is
parsed column-wise on the bytes, without a Python loop over lines. The first line is a
template: every byte of every line is checked against the class of its column (the literal
byte of the first line, a digit, a sign, an exponent letter, a right-aligned integer field);
anything else is refused (:func:`parse_fixed` returns None) and left to the general parse of
:func:`gravsep.formats.icgem.read_icgem`, which owns the format and names a bad line.

The checks and the digit sums work on 64-bit words, eight bytes at a time (SWAR): a line's
bytes are read as little-endian unsigned integers (one strided copy per word), so one NumPy
operation handles eight columns of every line. The numbers are converted correctly rounded,
bit for bit as ``float()`` (:func:`gravsep.formats.decimal_conversion.decimal_to_double`).
"""

import re

import numpy as np

from gravsep.formats.decimal_conversion import decimal_to_double

_TOKEN = re.compile(rb"\S+")
_FLOAT_TEMPLATE = re.compile(rb"([+-]?)(\d+)\.(\d+)([EeDd])([+-])(\d+)")
_U64 = np.uint64


def _bytes_mask(byte, columns, offset):
    """Integer with ``byte`` in the byte lanes of ``columns`` (0-based) of a word at ``offset``."""
    return sum(byte << (8 * (c - offset)) for c in columns if offset <= c < offset + 8)


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


def _template(first):
    """Column classes of the first line ``first`` (bytes, ending in a newline), or None.

    Returns
    -------
    literal, digit, letter : set of int
        Columns (0-based) that must hold the first line's byte, an ASCII digit, or an exponent
        letter (``D``, ``d``, ``E``, ``e``).
    ints : list of tuple
        ``(a, b)`` of the degree and order fields: at most 8 columns, right-aligned.
    floats : list of tuple
        ``(sign, a, b, c, end)`` per number: the sign column (blank, ``+`` or ``-``), the digits
        before the point ``a:b``, after it ``b+1:c``, the exponent letter at ``c``, its sign at
        ``c+1`` and its digits ``c+2:end``.
    """
    width = len(first)
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
    return literal, digit, letter, ints, floats


def _check_bytes(lines, first, literal, digit, letter):
    """Words of every line, offset -> uint64 array, or None if a byte is not of its class.

    Every byte is checked to be literal (the first line's), a digit, or an exponent letter
    (``b | 0x21 == 'e'``); signs and integer fields are checked by the caller.
    """
    width = lines.width
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
    return words


def _byte_column(words, c):
    """Byte ``c`` (0-based column) of every line, from the words of :func:`_check_bytes`."""
    o = max(x for x in words if x <= c)
    return (words[o] >> _U64(8 * (c - o))) & _U64(0xFF)


def _number_column(lines, a, b, c, end, neg, negative_exponent):
    """Doubles of one number column laid out as in :func:`_template` (``neg``: its sign is
    ``-``; ``negative_exponent``: the exponent's sign is ``-``; both bool arrays per line)."""
    mant = lines.digits(a, b)
    if c > b + 1:
        mant *= 10 ** (c - b - 1)
        mant += lines.digits(b + 1, c)
    k = lines.digits(c + 2, end)
    np.negative(k, where=negative_exponent, out=k)
    k -= c - b - 1

    def token(i):
        row = lines.start + i * lines.width
        return lines.data[row + a : row + end]

    return decimal_to_double(mant, k, neg, token)


def parse_fixed(data, start, stop):
    """Degrees, orders and coefficients of equally formatted gfc lines, or None.

    Parameters
    ----------
    data : bytes
        The whole file.
    start, stop : int
        The gfc lines are ``data[start:stop]``, ending in a newline; ``start >= 8`` (words
        are read up to 8 bytes before a line).

    Returns
    -------
    tuple or None
        ``(n, m, [C, S], ncol)``: int64 degrees and orders and float64 coefficients
        (dimensionless, as in the file) per line, and the number of columns after ``gfc``
        (4, or 6 with sigmas, which are checked but not converted); None if the lines are not
        all laid out as the first (the general parse then reads them).
    """
    width = data.find(b"\n", start, stop) + 1 - start
    size = stop - start
    if width < 8 or start < 8 or size % width:
        return None
    first = data[start : start + width]
    template = _template(first)
    if template is None:
        return None
    literal, digit, letter, ints, floats = template
    lines = _Lines(data, start, width, size // width)
    words = _check_bytes(lines, first, literal, digit, letter)
    if words is None:
        return None
    n_m = []
    for a, b in ints:
        value = _right_aligned(lines, a, b)
        if value is None:
            return None
        n_m.append(value)
    columns = []
    for j, (sign, a, b, c, end) in enumerate(floats):
        s, es = _byte_column(words, sign), _byte_column(words, c + 1)
        neg = s == 45
        if not (((s == 32) | (s == 43) | neg).all() and ((es == 43) | (es == 45)).all()):
            return None
        if j >= 2:  # sigma columns: checked, not converted (the reader returns C and S)
            continue
        columns.append(_number_column(lines, a, b, c, end, neg, es == 45))
    return n_m[0], n_m[1], columns, 2 + len(floats)
