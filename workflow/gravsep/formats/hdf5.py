"""What the HDF5 file formats share: an atomic writer, attribute values as Python types."""

from pathlib import Path

import h5py
import numpy as np

from gravsep.atomic import atomic_output


class HDF5Writer:
    """An HDF5 file written under a temporary name and renamed by :meth:`close`.

    The base of the formats' writers: a subclass fills the new file in ``_create`` (called
    with the constructor's other arguments); a failure there, or an exception in a ``with``
    block, removes the temporary file (:mod:`gravsep.atomic`).

    Attributes
    ----------
    path : pathlib.Path
        The final name.
    file : h5py.File
        The open temporary file.
    """

    #: Keyword arguments of ``h5py.File`` (e.g. the chunk cache).
    file_options = {}

    def __init__(self, path, *args, **kwargs):
        self.path = Path(path)
        self._output = atomic_output(self.path)
        self.tmp = self._output.begin()
        self.file = None
        try:
            self.file = h5py.File(self.tmp, "w", **self.file_options)
            self._create(*args, **kwargs)
        except BaseException:
            self.abort()
            raise

    def _create(self, *args, **kwargs):
        """Fill the new file (layout of the subclass's format)."""

    def close(self):
        """Flush, close and move the file to its final name."""
        try:
            self.file.close()
        except BaseException:
            self._output.discard()
            raise
        self._output.commit()

    def abort(self):
        """Close and delete the temporary file."""
        try:
            if self.file is not None:
                self.file.close()
        finally:
            self._output.discard()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False


class HDF5Reader:
    """Read access to an HDF5 file, open for the lifetime of the object or a ``with`` block.

    The base of the formats' readers: a subclass reads what it needs at opening in ``_open``;
    a failure there closes the file.
    """

    def __init__(self, path, *args, **kwargs):
        self.path = Path(path)
        self.file = h5py.File(self.path, "r")
        try:
            self._open(*args, **kwargs)
        except BaseException:
            self.file.close()
            raise

    def _open(self, *args, **kwargs):
        """Read the header of the file (layout of the subclass's format)."""

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False


def as_str(value):
    """An HDF5 string attribute (``bytes`` or ``str``) as ``str``."""
    return value.decode() if isinstance(value, bytes) else str(value)


def as_str_list(values):
    """An HDF5 list-of-strings attribute as ``list`` of ``str``."""
    return [as_str(v) for v in np.atleast_1d(values)]


def int_list(attrs, key):
    """An integer-list attribute as ``list`` of ``int`` (empty when absent)."""
    if key not in attrs:
        return []
    return [int(y) for y in np.atleast_1d(attrs[key])]
