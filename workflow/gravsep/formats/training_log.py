"""The training log ``training_log.h5``: what happened in every epoch of a training run.

Written by the trainer at the end of a run (:func:`write_training_log`); read by the
evaluation (the best epoch) and the training-curve figure (:func:`read_training_log`).

Layout
------
datasets, one row per epoch run
    ``loss`` (E,): mean loss of the epoch's training batches (augmented, dropout on);
    ``val_loss`` (E,): loss over all validation samples (dropout off);
    ``monitor`` (E,): the value early stopping watched; ``epoch_seconds`` (E,) [s];
    ``rms_train``, ``rms_validation``, ``rms_test`` (E, C) [m]: RMS error per component over
    all samples of the split, dropout off, no augmentation (NaN where a split has no years,
    and for training and test on the epochs ``training.curve_every`` skips).
attributes
    ``best_epoch`` (1-based), ``stopped_epoch`` (1-based, the last epoch run),
    ``components``, ``early_stopping``, ``min_epochs``, ``patience``, ``units``.
"""

import h5py
import numpy as np

from gravsep.atomic import atomic_output
from gravsep.formats.hdf5 import as_str, as_str_list

#: Per-epoch series of the log, in the order written.
HISTORY_KEYS = ("loss", "val_loss", "monitor", "epoch_seconds", "rms_train", "rms_validation",
                "rms_test")  # fmt: skip


def empty_history():
    """A history with every series of :data:`HISTORY_KEYS` and no epoch yet."""
    return {k: [] for k in HISTORY_KEYS}


def write_training_log(path, history, *, best_epoch, stopped_epoch, components, early_stopping,
                       min_epochs, patience):  # fmt: skip
    """Write the log atomically.

    Parameters
    ----------
    history : dict
        Series of :data:`HISTORY_KEYS`, one value (or row) per epoch.
    best_epoch, stopped_epoch : int
        1-based.
    """
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        for k, v in history.items():
            f.create_dataset(k, data=np.asarray(v, dtype=np.float64))
        f.attrs["best_epoch"] = int(best_epoch)
        f.attrs["stopped_epoch"] = int(stopped_epoch)
        f.attrs["components"] = list(components)
        f.attrs["early_stopping"] = early_stopping
        f.attrs["min_epochs"] = int(min_epochs)
        f.attrs["patience"] = int(patience)
        f.attrs["units"] = "rms_*: metres"


def read_training_log(path):
    """Read a training log.

    Returns
    -------
    dict
        The series of :data:`HISTORY_KEYS` present (numpy arrays), ``components``,
        ``best_epoch`` (-1 if not recorded), ``stopped_epoch``, ``early_stopping``.
    """
    with h5py.File(path, "r") as f:
        out = {k: f[k][()] for k in HISTORY_KEYS if k in f}
        a = f.attrs
        out["components"] = as_str_list(a["components"]) if "components" in a else []
        out["best_epoch"] = int(a.get("best_epoch", -1))
        out["stopped_epoch"] = int(a.get("stopped_epoch", -1))
        out["early_stopping"] = as_str(a.get("early_stopping", ""))
    return out


def best_epoch(path):
    """The best epoch (1-based) recorded in a training log; -1 without a log."""
    if path is None:
        return -1
    with h5py.File(path, "r") as f:
        return int(f.attrs.get("best_epoch", -1))
