"""Correctly rounded conversion of decimal numbers to doubles, many at a time.

A number given as an integer mantissa M (below 10**18), a decimal exponent k and a sign is
converted to the double nearest to ``M * 10**k`` (ties to even): bit for bit what ``float()``
gives for its text, but with NumPy operations on whole arrays. The fixed-width ICGEM column
parser (:mod:`gravsep.formats.icgem_columns`) uses it for the coefficient columns.

- x86 (x87 long double, 64-bit significand): M * 10**k is computed in long double with
  10**k rounded to 64 bits, so the product is within 2 units of its last bit from the exact
  value; rounding it to double gives the correctly rounded double unless the exact value
  and the product lie on either side of a point halfway between two doubles. Products
  within 2 units of such a point (about 1 value in 400), subnormal and overflowing results
  are converted by ``float()`` one by one.
- elsewhere (no x87, e.g. ARM): M < 2**53 and |k| <= 22 is one IEEE operation on exact
  operands (Clinger's fast path); other M < 2**53, |k| <= 290 in double-double arithmetic:
  10**k as the sum of two doubles, M * 10**k as an exact product plus a correction (Dekker's
  splitting), within 2**-100 of the exact value; its rounding to double is correct unless
  that close to a halfway point (exact ties only, in practice), which goes to ``float()``,
  as do larger mantissas and exponents.
"""

import functools
import sys
from fractions import Fraction

import numpy as np

_FORTRAN = bytes.maketrans(b"Dd", b"Ee")
_TINY = np.finfo(np.float64).tiny

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
_U64 = np.uint64


def decimal_to_double(mant, k, neg, token):
    """Correctly rounded ``(-1)**neg * mant * 10**k`` (see the module docstring).

    Parameters
    ----------
    mant : numpy.ndarray
        ``(L,)`` int64 mantissas, below 10**18.
    k : numpy.ndarray
        ``(L,)`` int64 decimal exponents.
    neg : numpy.ndarray
        ``(L,)`` bool, True for negative numbers.
    token : callable
        ``token(i)`` -> bytes, the text of number i (D or E exponent), converted with
        ``float()`` for the few values the array arithmetic cannot decide.

    Returns
    -------
    numpy.ndarray
        ``(L,)`` float64, the doubles nearest to the decimal values (in the unit of the text).
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
