"""Bounded reading of text products (ICGEM, GSM, technical notes): size limits, gzip, excerpts.

What the text readers share (:mod:`gravsep.formats.icgem`, :mod:`~gravsep.formats.gsm`,
:mod:`~gravsep.formats.technotes`): a source is a path, bytes or the text itself; gzip is
recognised by its magic bytes; at most ``limit`` bytes are read or decompressed, more is
refused before anything of that size is held (:func:`read_bytes`); a bad line is quoted in
part (:func:`excerpt`). Errors are :class:`FormatError` (the ICGEM reader's own class) and
name the file (and the line where there is one).
"""

import zlib
from pathlib import Path

#: Characters of a bad line quoted in a message.
EXCERPT = 60


class FormatError(ValueError):
    """A file that does not follow its format; the message names the file and line."""


def excerpt(text, limit=EXCERPT):
    """``repr`` of at most ``limit`` characters of a line (``...`` and the length if cut)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def gunzip(data, limit, name, error=FormatError):
    """Decompress gzip data, refusing more than ``limit`` bytes of output (``error`` raised)."""
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as err:
        raise error(f"{name}: corrupt gzip data ({err})") from None
    if len(out) > limit:
        raise error(f"{name}: decompresses to more than {limit} bytes; refusing to read it")
    if not d.eof:
        raise error(f"{name}: corrupt gzip data (truncated stream)")
    return out


def read_bytes(source, limit, error=FormatError, why=""):
    """``(data, name)`` of a path, bytes or str, at most ``limit`` bytes (after gunzip).

    The bounded reading every text reader shares (:func:`read_limited`, the ICGEM reader);
    ``error`` is the reader's exception class, ``why`` says in the message what the bound is.
    """
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "<bytes>"
    elif isinstance(source, str) and "\n" in source:
        data, name = source.encode("ascii", "replace"), "<string>"
    else:
        path = Path(source)
        name = str(path)
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    if data[:2] == b"\x1f\x8b":
        data = gunzip(data, limit, name, error)
    if len(data) > limit:
        raise error(f"{name}: more than {limit} bytes{why}; refusing to read it")
    return data, name


def read_limited(source, limit):
    """``(text, name)`` of a path, bytes or str, at most ``limit`` bytes (after gunzip).

    Parameters
    ----------
    source : path-like, bytes or str
        A path (gzip recognised by content), raw bytes, or the text itself (a str holding a
        newline).
    limit : int
        The most bytes accepted [bytes].

    Returns
    -------
    text : str
        Decoded as ASCII (other bytes replaced, so that a message can quote them).
    name : str
        The path, or ``<bytes>`` / ``<string>``.

    Raises
    ------
    FormatError
        More than ``limit`` bytes, or corrupt gzip data.
    """
    data, name = read_bytes(source, limit)
    return data.decode("ascii", "replace"), name


def to_float(word):
    """A number of a text product (Fortran ``D`` exponents allowed); ValueError if not one."""
    return float(word.replace("D", "E").replace("d", "e"))
