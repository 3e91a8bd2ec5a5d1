"""The model record ``parameters.yaml``: how a model was trained and how to use it.

Written by the trainer (:func:`write_parameters`); read by prediction (:func:`load_scales`)
and by anyone who wants to know what a model is (:func:`read_parameters`).

Layout (YAML mapping, in this order)
------------------------------------
``model``, ``dataset`` (path), ``components``, ``sampling``, ``dim``, ``years`` (per split),
``network``, ``training`` (the resolved configuration sections), ``seed``, ``scales``
(``target_scaling``, ``targets``: component -> scale [m], ``input`` [m]: network target =
target / scale, network input = input / input scale), ``inputs`` (the network's input
channels: ``context_windows``, ``context_stride``, ``position_channels``, ``channels`` names;
absent in older records: the single summed field), ``parameters`` (count),
``best_epoch``, ``stopped_epoch``, ``execution`` (``mixed_precision``, ``xla``,
``replicas``, ``in_memory``), ``versions`` (package -> version).
"""

import numpy as np
import yaml

from gravsep.atomic import atomic_output
from gravsep.plain import plain


def write_parameters(path, params):
    """Write a parameters mapping as YAML, atomically, keys in the given order."""
    with atomic_output(path) as tmp, open(tmp, "w") as f:
        yaml.safe_dump(plain(params), f, sort_keys=False)


def read_parameters(path):
    """The parameters mapping of a model."""
    with open(path) as f:
        return yaml.safe_load(f)


def load_scales(params, components=None):
    """Target and input scales recorded in a model's parameters.

    Parameters
    ----------
    params : dict or path-like
        The parameters, or the path of ``parameters.yaml``.
    components : list of str, optional
        Order of the returned target scales; default the recorded order.

    Returns
    -------
    target_scales : numpy.ndarray
        ``(C,)`` [m].
    input_scale : float
        [m].
    components : list of str
    """
    if not isinstance(params, dict):
        params = read_parameters(params)
    recorded = params["scales"]["targets"]
    components = list(components or params["components"])
    return (
        np.array([recorded[c] for c in components], dtype=np.float64),
        float(params["scales"]["input"]),
        components,
    )
