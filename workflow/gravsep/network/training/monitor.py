"""Monitoring of a training run, as hooks shaped like Keras callbacks around each epoch.

The loop (:func:`gravsep.network.training.loop.fit`) calls ``on_train_begin()``, then per
epoch ``on_epoch_begin(epoch)`` and ``on_epoch_end(epoch, logs)`` (``epoch`` 0-based, as in
Keras; the log counts epochs from 1), and ``on_train_end()`` however the run ends. ``logs``
holds the epoch's ``loss``, ``val_loss``, ``rms_train``, ``rms_validation``, ``rms_test`` and
timings; hooks read it and add to it, in list order:

:class:`EarlyStopping`
    adds ``monitor`` (what it watches) and ``improved``; keeps the best value, epoch and
    weights (from epoch 1) and sets ``stop_training`` once ``min_epochs`` are run and the
    monitored loss has not improved for ``patience`` epochs.
:class:`BestWeights`
    writes the best weights file whenever the monitored loss improved.
:class:`History`
    adds ``epoch_seconds`` and keeps one row per epoch of :data:`HISTORY_KEYS`.
:class:`gravsep.network.training.state.StateCheckpoint`
    saves the resume state.
:class:`TensorBoard`, :class:`EpochLog`
    event files and the per-epoch log line.

These are plain classes with Keras's hook names rather than subclasses of
``keras.callbacks.Callback``: the loop is our own (no ``model.fit``), the hooks carry resume
state that Keras callbacks do not (restored from the state file), and this module imports no
TensorFlow until a TensorBoard writer is made.
"""

import logging
import math
import shutil
import time
from pathlib import Path

import numpy as np

from gravsep.atomic import atomic_output
from gravsep.formats.samples import SPLITS
from gravsep.formats.training_log import HISTORY_KEYS, empty_history
from gravsep.network.training.data import epoch_seed
from gravsep.plain import plain

log = logging.getLogger(__name__)


class Callback:
    """Hooks that do nothing; subclasses override what they need."""

    #: Set by a hook to end the run after this epoch.
    stop_training = False

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs):
        pass

    def on_train_end(self, logs=None):
        pass


class CallbackList(Callback):
    """Several hooks called in order; ``stop_training`` when any of them asks."""

    def __init__(self, callbacks):
        self.callbacks = [c for c in callbacks if c is not None]

    @property
    def stop_training(self):
        return any(c.stop_training for c in self.callbacks)

    def on_train_begin(self, logs=None):
        for c in self.callbacks:
            c.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for c in self.callbacks:
            c.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs):
        for c in self.callbacks:
            c.on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        for c in self.callbacks:
            c.on_train_end(logs)


class EarlyStopping(Callback):
    """Watch a validation loss; keep the best epoch and weights; stop when it stalls.

    Parameters
    ----------
    mode : {"validation_year", "random_sample"}
        Watch ``logs["val_loss"]`` (the loss over all validation samples), or the loss of one
        validation sample drawn per epoch (seeded by ``seed`` and the epoch), as the
        reference does.
    min_epochs, patience : int
        Stop only after ``min_epochs`` epochs, once ``patience`` epochs in a row did not
        improve the monitored loss.
    model : keras.Model
        Its weights are copied whenever the monitored loss improves.
    sample_loss : callable, optional
        ``i -> loss`` of validation sample ``i`` (``random_sample``).
    n_samples : int
        Number of validation samples (``random_sample``).
    seed : int

    Attributes
    ----------
    best : dict
        ``value`` (the best monitored loss, ``inf`` before any), ``epoch`` (1-based, 0 before
        any), ``wait`` (epochs since).
    best_weights : list of numpy.ndarray or None
    """

    def __init__(self, mode, *, min_epochs, patience, model, sample_loss=None, n_samples=0,
                 seed=0):  # fmt: skip
        self.mode, self.min_epochs, self.patience = mode, int(min_epochs), int(patience)
        self.model, self.sample_loss = model, sample_loss
        self.n_samples, self.seed = int(n_samples), int(seed)
        self.best = {"value": math.inf, "epoch": 0, "wait": 0}
        self.best_weights = None

    def restore(self, best, best_weights):
        """Continue from a saved state's ``best`` and best weights."""
        self.best, self.best_weights = best, best_weights

    def monitored(self, epoch, logs):
        """The value watched after ``epoch`` (0-based)."""
        if self.mode == "validation_year":
            return logs["val_loss"]
        rng = np.random.default_rng(int(epoch_seed(self.seed, epoch)) + 1)
        return self.sample_loss(int(rng.integers(self.n_samples)))

    def on_epoch_end(self, epoch, logs):
        monitor = logs["monitor"] = self.monitored(epoch, logs)
        logs["improved"] = monitor < self.best["value"]
        if logs["improved"]:
            self.best.update(value=monitor, epoch=epoch + 1, wait=0)
            self.best_weights = [w.copy() for w in self.model.get_weights()]
        else:
            self.best["wait"] += 1
        self.stop_training = epoch + 1 >= self.min_epochs and self.best["wait"] >= self.patience


class BestWeights(Callback):
    """Write the model's weights to ``path`` (atomically) in every epoch that improved."""

    def __init__(self, path, model):
        self.path, self.model = path, model

    def on_epoch_end(self, epoch, logs):
        if logs["improved"]:
            with atomic_output(self.path) as tmp:
                self.model.save_weights(tmp)


class History(Callback):
    """The per-epoch series of :data:`gravsep.formats.training_log.HISTORY_KEYS`.

    ``epoch_seconds`` is the time from :meth:`on_epoch_begin` to this hook's
    :meth:`on_epoch_end` (training, evaluation and the hooks before it) [s].
    """

    def __init__(self):
        self.history = empty_history()
        self._t0 = None

    def restore(self, history):
        """Continue the series of a saved state."""
        self.history = history

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        logs["epoch_seconds"] = time.perf_counter() - self._t0
        for k in HISTORY_KEYS:
            self.history[k].append(plain(logs[k]))


class TensorBoard(Callback):
    """TensorBoard event files of the per-epoch values in ``folder`` (rewritten on resume).

    Scalars ``loss/train``, ``loss/validation``, ``loss/monitor``, ``time/epoch_seconds`` and
    ``rms_<split>/<component>`` [m], step = epoch (1-based), written from ``history``.
    """

    def __init__(self, folder, components, history):
        self.folder, self.components, self.history = Path(folder), components, history
        self.writer = None

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.writer = tf.summary.create_file_writer(str(self.folder))
        self.write(1, len(self.history.history["loss"]))

    def on_epoch_end(self, epoch, logs):
        self.write(epoch + 1, epoch + 1)

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()

    def write(self, first, last):
        """Scalars of epochs ``first`` .. ``last`` (1-based) from the history."""
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        # tf.summary.write with the scalar plugin's metadata is what tf.summary.scalar writes,
        # but needs no tensorboard package (tensorflow-cpu does not depend on it).
        plugin = summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
        metadata = summary_pb2.SummaryMetadata(plugin_data=plugin).SerializeToString()

        def scalar(tag, value, step):
            tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step,
                             metadata=metadata)  # fmt: skip

        history = self.history.history
        with self.writer.as_default():
            for e in range(first, last + 1):
                i = e - 1
                scalar("loss/train", history["loss"][i], e)
                scalar("loss/validation", history["val_loss"][i], e)
                scalar("loss/monitor", history["monitor"][i], e)
                scalar("time/epoch_seconds", history["epoch_seconds"][i], e)
                for s in SPLITS:
                    for c, value in zip(self.components, history[f"rms_{s}"][i], strict=True):
                        if value == value:  # not NaN: the split was evaluated this epoch
                            scalar(f"rms_{s}/{c}", value, e)
        self.writer.flush()


class EpochLog(Callback):
    """One log line per epoch: losses, the best mark, validation RMS [m], timings [s]."""

    def __init__(self, epochs):
        self.epochs = int(epochs)

    def on_epoch_end(self, epoch, logs):
        log.info(
            "epoch %d/%d: loss %.5g, val_loss %.5g, monitor %.5g%s; rms val %s m; "
            "%.2f s (train %.2f, evaluation %.2f; state %.2f)",
            epoch + 1, self.epochs, logs["loss"], logs["val_loss"], logs["monitor"],
            " (best)" if logs["improved"] else "",
            np.array2string(logs["rms_validation"], precision=4), logs["epoch_seconds"],
            logs["train_seconds"], logs["evaluation_seconds"], logs.get("state_seconds", 0.0),
        )  # fmt: skip
