"""Resume state: the complete training state after each epoch, and the SIGTERM watch.

This module owns the state file ``state/epoch-NNNNN.h5`` (one per run folder, the latest
epoch only), written atomically after every epoch by :class:`StateCheckpoint`:

root attributes
    ``fingerprint`` (:func:`fingerprint`: configuration and dataset file), ``epoch``
    (1-based, the last completed), ``info`` (JSON: ``history`` and early stopping's ``best``).
groups ``model``, ``optimizer``, ``best``
    The model's variables (including the dropout seed states), the optimiser's variables and
    the best weights so far, as datasets ``00000``, ``00001``, ... (attribute ``n``: count).

A rerun with the same fingerprint continues after the saved epoch (:func:`load_state`,
:func:`restore`) and gives the same result as an uninterrupted run; a state of another
configuration is ignored. :func:`sigterm_watch` turns SIGTERM (a SLURM time limit) into a flag
that the loop checks; the run then ends with :class:`TrainingInterrupted`.
"""

import hashlib
import json
import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import h5py

from gravsep.atomic import atomic_output
from gravsep.network.training.monitor import Callback
from gravsep.plain import plain

#: Version of the state layout; part of the fingerprint.
STATE_VERSION = 1
GROUPS = ("model", "optimizer", "best")

log = logging.getLogger(__name__)


def fingerprint(dataset_h5, network, training):
    """Hex digest of the configuration sections and the dataset file (path, size, mtime)."""
    st = os.stat(dataset_h5)
    blob = json.dumps(
        {
            "v": STATE_VERSION,
            "network": network,
            "training": training,
            "dataset": [str(Path(dataset_h5).resolve()), st.st_size, st.st_mtime_ns],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def save_state(state_dir, fingerprint, epoch, model, optimizer, best_weights, info):
    """Write the state after ``epoch`` (1-based) and remove older states.

    Parameters
    ----------
    state_dir : path-like
    fingerprint : str
    epoch : int
    model : keras.Model
    optimizer : keras.optimizers.Optimizer
    best_weights : list of numpy.ndarray or None
    info : dict
        JSON-serialisable (after :func:`gravsep.plain.plain`).
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / f"epoch-{epoch:05d}.h5"
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["fingerprint"] = fingerprint
        f.attrs["epoch"] = epoch
        f.attrs["info"] = json.dumps(plain(info))
        for group, values in (
            ("model", [v.numpy() for v in model.variables]),
            ("optimizer", [v.numpy() for v in optimizer.variables]),
            ("best", best_weights or []),
        ):
            g = f.create_group(group)
            g.attrs["n"] = len(values)
            for i, v in enumerate(values):
                g.create_dataset(f"{i:05d}", data=v)
    for old in state_dir.glob("epoch-*.h5"):
        if old != path:
            old.unlink()


def load_state(state_dir, fingerprint):
    """The latest readable state with this fingerprint, or None.

    Returns
    -------
    tuple or None
        ``(epoch, info, groups)``: the 1-based epoch, the ``info`` dict and
        ``{"model": [...], "optimizer": [...], "best": [...]}`` (numpy arrays).
    """
    for path in sorted(Path(state_dir).glob("epoch-*.h5"), reverse=True):
        try:
            with h5py.File(path, "r") as f:
                if f.attrs["fingerprint"] != fingerprint:
                    log.info("ignoring %s: written for another configuration", path)
                    return None
                groups = {
                    g: [f[g][f"{i:05d}"][()] for i in range(int(f[g].attrs["n"]))] for g in GROUPS
                }
                return int(f.attrs["epoch"]), json.loads(f.attrs["info"]), groups
        except (OSError, KeyError, ValueError) as err:
            log.warning("ignoring unreadable state %s: %s", path, err)
    return None


def restore(model, optimizer, groups):
    """Assign a loaded state's model and optimiser variables; return its best weights."""
    for v, a in zip(model.variables, groups["model"], strict=True):
        v.assign(a)
    for v, a in zip(optimizer.variables, groups["optimizer"], strict=True):
        v.assign(a)
    return groups["best"] or None


class StateCheckpoint(Callback):
    """Save the state after every epoch (a monitoring hook; see :mod:`.monitor`).

    Parameters
    ----------
    state_dir : path-like
    fingerprint : str
    model, optimizer
    early_stopping : gravsep.network.training.monitor.EarlyStopping
        Gives ``best`` and ``best_weights``.
    history : gravsep.network.training.monitor.History
    """

    def __init__(self, state_dir, fingerprint, model, optimizer, early_stopping, history):
        self.state_dir, self.fingerprint = Path(state_dir), fingerprint
        self.model, self.optimizer = model, optimizer
        self.early_stopping, self.history = early_stopping, history

    def on_epoch_end(self, epoch, logs):
        """Write the state; ``logs["state_seconds"]``: the time it took [s]."""
        t0 = time.perf_counter()
        info = {"history": self.history.history, "best": self.early_stopping.best}
        save_state(self.state_dir, self.fingerprint, epoch + 1, self.model, self.optimizer,
                   self.early_stopping.best_weights, info)  # fmt: skip
        logs["state_seconds"] = time.perf_counter() - t0


class TrainingInterrupted(SystemExit):
    """Training was stopped by SIGTERM; the state of the last completed epoch is kept.

    A ``SystemExit`` with code 143 (128 + SIGTERM): uncaught, the process ends non-zero
    without a traceback, so Snakemake (and SLURM) see an unfinished job.
    """

    def __init__(self, message):
        super().__init__(128 + signal.SIGTERM)
        self.message = message

    def __str__(self):
        return self.message


@contextmanager
def sigterm_watch():
    """Set ``flag["term"]`` on SIGTERM while training (main thread only; elsewhere never)."""
    flag = {"term": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag["term"] = True
        log.warning("SIGTERM received: abandoning the current epoch, keeping the last state")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, old)
