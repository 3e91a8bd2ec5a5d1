"""The training loop: :func:`train` ties the pieces together, :func:`fit` runs the epochs.

A custom loop rather than ``model.fit``: a resumed run must continue exactly where the state
file left it (model and optimiser variables with the dropout seed states, history, early
stopping's counters, and the input pipeline at the next epoch, which
:class:`~gravsep.network.training.data.EpochPipeline` makes a function of the epoch); SIGTERM
must abandon an epoch between two steps; and the ``random_sample`` early-stopping mode
evaluates one seeded validation sample per epoch with the compiled evaluation step.
"""

import functools
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from gravsep.network.training.monitor import (
    BestWeights,
    CallbackList,
    EarlyStopping,
    EpochLog,
    History,
    TensorBoard,
)
from gravsep.network.training.options import TrainingOptions
from gravsep.network.training.outputs import write_outputs
from gravsep.network.training.state import (
    StateCheckpoint,
    TrainingInterrupted,
    fingerprint,
    load_state,
    restore,
    sigterm_watch,
)
from gravsep.network.training.steps import configure_tensorflow
from gravsep.network.training.trainer import Trainer

log = logging.getLogger(__name__)

#: How :func:`fit` ended: all epochs run, stopped early, ``stop_after`` reached, SIGTERM.
DONE, EARLY_STOP, PAUSED, INTERRUPTED = "done", "early stop", "paused", "interrupted"


def train(dataset_h5, network, training, weights_path, model_path, log_path, params_path, *,
          threads=None, model_name=None, state_dir=None, resume=True, eval_batch_size=None,
          stop_after=None, tensorboard_dir=None, in_memory_limit=None, devices=None):  # fmt: skip
    """Train a U-Net on a dataset file and write the outputs (see :mod:`gravsep.network.training`).

    Parameters
    ----------
    dataset_h5 : path-like
        Dataset file (:mod:`gravsep.formats.samples`).
    network : dict
        The model's ``network`` section (:func:`gravsep.network.unet.build_unet`).
    training : dict
        The model's ``training`` section: every key of ``gravsep.config.REQUIRED``;
        ``augmentation``, ``mixed_precision`` and ``xla`` get the schema's defaults
        (:class:`gravsep.network.training.options.TrainingOptions`).
    weights_path, model_path, log_path, params_path : path-like
        Outputs: best weights (``*.weights.h5``), model (``*.keras``), training log (HDF5),
        parameters (YAML).
    threads : int, optional
        TensorFlow intra-op threads (inter-op: at most 2).
    model_name : str, optional
        Recorded in the parameters; default the model folder's name.
    state_dir : path-like, optional
        Resume state folder; default ``state/`` next to ``model_path``.
    resume : bool
        Continue from a matching state if there is one.
    eval_batch_size : int, optional
        Batch size of the per-epoch evaluations (no effect on results beyond rounding);
        default about 2**20 pixels per batch, at least ``batch_size``.
    stop_after : int, optional
        Stop (leaving the state, writing no outputs) after this many epochs in this call;
        for tests of resuming and for time-limited jobs.
    tensorboard_dir : path-like, optional
        Folder of TensorBoard event files (per-epoch losses, RMS per split and component [m],
        epoch time [s]); rewritten from the history on resume.
    in_memory_limit : int, optional
        Bytes of samples kept in memory before streaming (:class:`Trainer`).
    devices : list of str, optional
        Devices to mirror over (default: all GPUs when there are several).

    Returns
    -------
    dict or None
        ``best_epoch``, ``stopped_epoch`` (1-based), ``epochs_run`` (this call), ``history``
        and ``seconds`` (this call) [s]; ``None`` when ``stop_after`` ended the call early.

    Raises
    ------
    TrainingInterrupted
        On SIGTERM (e.g. a SLURM time limit): the current epoch is abandoned, the state of
        the last completed epoch stays for a rerun, and no outputs are written.
    """
    configure_tensorflow(threads, TrainingOptions.from_config(network, training).seed)
    t_start = time.perf_counter()
    model_path = Path(model_path)
    model_name = model_name or model_path.parent.name
    state_dir = Path(state_dir) if state_dir is not None else model_path.parent / "state"
    trainer = Trainer(dataset_h5, network, training, in_memory_limit=in_memory_limit,
                      devices=devices, eval_batch_size=eval_batch_size)  # fmt: skip
    trainer.describe(model_name)
    options = trainer.options
    early_stopping = EarlyStopping(
        options.early_stopping, min_epochs=options.min_epochs, patience=options.patience,
        model=trainer.model, sample_loss=functools.partial(trainer.sample_loss, "validation"),
        n_samples=trainer.sources["validation"].n, seed=options.seed,
    )  # fmt: skip
    history = History()
    key = fingerprint(dataset_h5, options.network, options.training)
    first = resume_state(state_dir, key, trainer, early_stopping, history) if resume else 0
    if first == 0 and state_dir.exists():
        shutil.rmtree(state_dir)
    callbacks = CallbackList([
        early_stopping,
        BestWeights(weights_path, trainer.model),
        history,
        StateCheckpoint(state_dir, key, trainer.model, trainer.optimizer, early_stopping, history),
        TensorBoard(tensorboard_dir, trainer.components, history) if tensorboard_dir else None,
        EpochLog(options.epochs),
    ])  # fmt: skip
    epoch, ending = fit(trainer, callbacks, first, options.epochs, stop_after)
    if ending == PAUSED:
        log.info("stopping after %d epochs in this call (state kept)", epoch - first)
        return None
    if ending == INTERRUPTED:
        message = (
            f"training interrupted by SIGTERM after {epoch} completed epoch(s) of "
            f"{options.epochs}; rerun to resume from the state in {state_dir}"
        )
        log.error(message)
        raise TrainingInterrupted(message)
    if ending == EARLY_STOP:
        log.info("early stop after epoch %d; best epoch %d", epoch, early_stopping.best["epoch"])
    best_epoch = write_outputs(
        trainer, early_stopping, history.history, epoch, weights_path=weights_path,
        model_path=model_path, log_path=log_path, params_path=params_path,
        model_name=model_name, dataset_h5=dataset_h5,
    )  # fmt: skip
    shutil.rmtree(state_dir, ignore_errors=True)
    seconds = time.perf_counter() - t_start
    log.info("done in %.1f s: best epoch %d of %d", seconds, best_epoch, epoch)
    return {"best_epoch": best_epoch, "stopped_epoch": epoch, "epochs_run": epoch - first,
            "history": history.history, "seconds": seconds}  # fmt: skip


def resume_state(state_dir, key, trainer, early_stopping, history):
    """Restore a matching state into the model, optimiser and hooks; the epochs it covers.

    Returns
    -------
    int
        The number of completed epochs to continue after; 0 without a matching state.
    """
    loaded = load_state(state_dir, key) if state_dir.exists() else None
    if loaded is None:
        return 0
    epoch, info, groups = loaded
    best_weights = restore(trainer.model, trainer.optimizer, groups)
    early_stopping.restore(info["best"], best_weights)
    history.restore(info["history"])
    log.info("resuming after epoch %d (best epoch %d)", epoch, info["best"]["epoch"])
    return epoch


def fit(trainer, callbacks, first, epochs, stop_after=None):
    """Run epochs ``first`` .. ``epochs - 1`` (0-based) with the monitoring hooks.

    Parameters
    ----------
    trainer : Trainer
    callbacks : gravsep.network.training.monitor.CallbackList
    first, epochs : int
        Completed epochs so far, and the most epochs.
    stop_after : int, optional
        Pause after this many epochs in this call (unless the run is over anyway).

    Returns
    -------
    epoch : int
        Completed epochs (1-based number of the last one).
    ending : str
        :data:`DONE`, :data:`EARLY_STOP`, :data:`PAUSED` or :data:`INTERRUPTED` (SIGTERM).
    """
    epoch, ending = first, DONE
    callbacks.on_train_begin()
    try:
        batches = iter(trainer.epochs_dataset(first, epochs)) if first < epochs else None
        with sigterm_watch() as flag:
            while epoch < epochs:
                callbacks.on_epoch_begin(epoch)
                curves = epoch == 0 or (epoch + 1) % trainer.options.curve_every == 0
                logs = None if flag["term"] else run_epoch(trainer, batches, flag, curves)
                if logs is None:
                    ending = INTERRUPTED
                    break
                callbacks.on_epoch_end(epoch, logs)
                epoch += 1
                if callbacks.stop_training:
                    ending = EARLY_STOP
                    break
                if stop_after is not None and epoch - first >= stop_after and epoch < epochs:
                    ending = PAUSED
                    break
            if flag["term"] and ending != PAUSED:  # also when it came after the last epoch
                ending = INTERRUPTED
    finally:
        callbacks.on_train_end()
    return epoch, ending


def run_epoch(trainer, batches, flag, curves=True):
    """One epoch's training steps and evaluations; ``None`` once ``flag["term"]`` is set.

    Parameters
    ----------
    curves : bool
        Also evaluate the training and test splits (else their RMS is NaN;
        ``training.curve_every``).

    Returns
    -------
    dict or None
        ``loss`` (mean over the training batches: augmented, dropout on), ``val_loss``,
        ``rms_train``, ``rms_validation``, ``rms_test`` ((C,) [m], dropout off),
        ``train_seconds``, ``evaluation_seconds`` [s].
    """
    t0 = time.perf_counter()
    total, count = 0.0, 0
    for _ in range(trainer.steps_per_epoch):
        if flag["term"]:
            return None
        xb, yb, wb = next(batches)
        total += float(trainer.train_step(xb, yb, wb))
        count += trainer.batch_size_of(xb)
    if flag["term"]:
        return None
    t1 = time.perf_counter()
    val_loss, rms_validation = trainer.evaluate("validation")
    if curves:
        _, rms_train = trainer.evaluate("train")
        _, rms_test = trainer.evaluate("test")
    else:
        rms_train = rms_test = np.full(np.shape(rms_validation), np.nan)
    return {
        "loss": total / count, "val_loss": val_loss, "rms_train": rms_train,
        "rms_validation": rms_validation, "rms_test": rms_test, "train_seconds": t1 - t0,
        "evaluation_seconds": time.perf_counter() - t1,
    }  # fmt: skip
