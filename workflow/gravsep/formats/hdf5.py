"""Small helpers shared by the HDF5 file formats: attribute values as Python types."""

import numpy as np


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
