"""The synthetic model as ESM archives: every epoch as ICGEM text, one archive per letter-year.

An archive ``mtm_<YEAR>_<C>.tar.gz`` holds one folder per month with one ICGEM file per
6-hourly epoch, in the layout of the real ESA ESM (:func:`gravsep.formats.archive.write_archive`
writes it, deterministically). Every file is the text :func:`gravsep.formats.icgem.format_icgem`
writes for the letter's dimensionless Stokes coefficients at that epoch rounded to
:data:`FILE_DIGITS` significant digits, with comment lines naming the synthetic model, its
seed, the letter and the epoch, and the model name ``gravsep_synthetic_ESM_<C>``.
"""

from pathlib import Path

import numpy as np

from gravsep.constants import LETTERS
from gravsep.formats.archive import write_archive
from gravsep.formats.icgem import format_icgem
from gravsep.synthetic.model import epoch_coefficients

#: Significant digits of the coefficients written to the archives (the text keeps the
#: 12-decimal ICGEM layout; the trailing digits are zeros, which gzip compresses well).
FILE_DIGITS = 7


def _comments(model, letter):
    """Comment lines of the files of ``letter``; ``@EPOCH@`` stands for the epoch."""
    return (
        f"synthetic ESA-ESM-like model by gravsep.synthetic (seed {model.seed}); not real data",
        f"letter {letter}: {LETTERS[letter]}",
        "epoch @EPOCH@",
    )


def _modelname(letter):
    """The ``modelname`` header value of the files of ``letter``."""
    return f"gravsep_synthetic_ESM_{letter}"


class _Formatter:
    """ICGEM text of many epochs, identical to :func:`gravsep.formats.icgem.format_icgem`.

    The header comes from ``format_icgem`` itself; the coefficient lines are formatted with
    one ``%`` operation per epoch (several times faster than one f-string per number).
    With ``digits`` significant digits, each number is formatted as ``% .{digits-1}E`` and
    padded with zeros to the 12 decimals of ``format_icgem``: the text is exactly what
    ``format_icgem`` writes for the coefficients rounded to ``digits`` digits.
    """

    def __init__(self, nmax, modelname, comments, digits=FILE_DIGITS):
        digits = 13 if digits is None else int(digits)
        if not 1 <= digits <= 13:
            raise ValueError(f"digits must be between 1 and 13, got {digits}")
        text = format_icgem(
            np.zeros((2, nmax + 1, nmax + 1)), modelname=modelname, comments=comments
        )
        end = text.index("end_of_head\n") + len("end_of_head\n")
        self.head = text[:end]
        self.n, self.m = np.tril_indices(nmax + 1)
        number = f"% .{digits - 1}E"
        self.template = "".join(
            f"gfc {a:4d} {b:4d} {number} {number}\n" for a, b in zip(self.n, self.m, strict=True)
        )
        self.exponent = "0" * (13 - digits) + "D"

    def values(self, cs):
        """``(..., 2, N+1, N+1)`` -> ``(..., L)`` numbers in file order (C, S per line)."""
        cs = np.asarray(cs, dtype=np.float64)
        pairs = np.stack([cs[..., 0, self.n, self.m], cs[..., 1, self.n, self.m]], axis=-1)
        return pairs.reshape(cs.shape[:-3] + (-1,))

    def __call__(self, values, epoch):
        """Text of one epoch from its :meth:`values`."""
        body = (self.template % tuple(values.tolist())).replace("E", self.exponent)
        return self.head.replace("@EPOCH@", str(np.datetime64(epoch, "s"))) + body


def format_epochs(model, letter, year, digits=FILE_DIGITS):
    """ICGEM texts of every epoch of a year: a generator of (epoch, text).

    The numbers carry ``digits`` significant digits (None: 13, the full ``format_icgem``
    precision), always written with 12 decimals and D exponents.

    Parameters
    ----------
    model : gravsep.synthetic.model.SyntheticModel
    letter : str
    year : int
    digits : int or None
        Significant digits of the dimensionless Stokes coefficients, 1 to 13.

    Yields
    ------
    epoch : numpy.datetime64
        The epoch [s], 1460 or 1464 of them in time order.
    text : str
        The ICGEM file of that epoch.
    """
    epochs, cs = epoch_coefficients(model, letter, year)
    fmt = _Formatter(model.nmax, _modelname(letter), _comments(model, letter), digits)
    values = fmt.values(cs)
    for epoch, v in zip(epochs, values, strict=True):
        yield epoch, fmt(v, epoch)


def write_year_archive(model, letter, year, path, digits=FILE_DIGITS):
    """Write ``mtm_<YEAR>_<C>.tar.gz`` of one letter and year in the ESM layout.

    Deterministic: the same model gives the same bytes (see
    :func:`gravsep.formats.archive.write_archive`).

    Parameters
    ----------
    model : gravsep.synthetic.model.SyntheticModel
    letter : str
    year : int
    path : path-like
        The archive to write; its folder is created if missing.
    digits : int or None
        As for :func:`format_epochs`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_archive(path, letter, year, format_epochs(model, letter, year, digits))
