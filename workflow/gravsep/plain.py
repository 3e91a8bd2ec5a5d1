"""Plain Python values for YAML and JSON writers."""

import numpy as np


def plain(obj):
    """``obj`` with NumPy scalars and arrays (also inside dicts, lists, tuples) as built-ins.

    Mapping keys become ``str``; tuples become lists.
    """
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
