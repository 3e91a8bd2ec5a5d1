"""Training of the multi-channel U-Net (method note §4), with resume and atomic outputs.

:func:`train` reads a dataset file (see :func:`read_dataset`), trains with a custom
``tf.function`` loop and writes four outputs, each under a temporary name first and then renamed,
so that a killed job leaves nothing half-written under a final name:

``weights_path`` (``checkpoints/best.weights.h5``)
    Keras weights of the best epoch (rewritten whenever the monitored loss improves).
``model_path`` (``model.keras``)
    The whole model with the best weights.
``log_path`` (``training_log.h5``)
    Datasets, one row per epoch run: ``loss`` ``(E,)`` (mean loss of the epoch's training
    batches: augmented, dropout on), ``val_loss`` ``(E,)`` (loss over all validation samples,
    dropout off), ``monitor`` ``(E,)`` (the value early stopping watched), ``epoch_seconds``
    ``(E,)``, ``rms_train``, ``rms_validation`` and ``rms_test`` ``(E, C)``: RMS error per
    component in metres over all samples of the split, dropout off, no augmentation (NaN where
    a split has no years);
    attributes ``best_epoch`` (1-based), ``stopped_epoch`` (1-based, the last epoch run),
    ``components``, ``early_stopping``, ``min_epochs``, ``patience``.
``params_path`` (``parameters.yaml``)
    Network, training, dataset path, model name, components, sampling, dim, years, the scales
    (:func:`compute_scales`), package versions, seed, best and stopped epoch.

Deviations from the reference, on purpose: targets and input may be scaled to tanh's range
(``target_scaling: max_abs``); early stopping may watch the loss over the whole validation
year(s) (``early_stopping: validation_year``); the best epoch is tracked from epoch 1, so it is
always defined, while stopping is only allowed after ``min_epochs``; per-epoch RMS errors use
all samples of every split, batched in graph mode, with dropout off.

Input pipeline: ``tf.data`` with a seeded shuffle, the augmentations as graph ops and
prefetching. Samples stay in memory when all splits fit under a limit
(:func:`default_in_memory_limit`); otherwise they are streamed from the HDF5 file by chunks of
consecutive samples (one read per chunk, never per sample). ``training.mixed_precision`` and
``training.xla`` (``auto``/``on``/``off``; ``auto`` = on when a GPU is visible) switch
float16 compute with loss scaling and XLA compilation of the steps; with several visible GPUs
the steps run under ``tf.distribute.MirroredStrategy``. ``tensorboard_dir`` receives TensorBoard
event files of the per-epoch values.

Resume: after every epoch the complete training state (model variables including the dropout
seed states, optimiser variables, best weights, history, counters) goes to one file in a
``state/`` folder next to the model; a rerun with the same configuration and dataset continues
after the last completed epoch and gives the same result as an uninterrupted run. The folder is
removed after a successful run; a state from another configuration is ignored. SIGTERM (as
SLURM sends at a time limit) abandons the current epoch, keeps the last state and ends with
:class:`TrainingInterrupted` (exit status 143).
"""

import hashlib
import json
import logging
import math
import os
import platform
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import h5py
import numpy as np
import yaml

from gravsep.atomic import atomic_output

#: Keys of a model's ``training`` configuration that :func:`train` needs.
TRAINING_KEYS = (
    "seed", "epochs", "min_epochs", "patience", "batch_size", "learning_rate", "beta_1",
    "beta_2", "loss_type", "component_weights", "sum_weight", "slope_weight", "shape_weight",
)  # fmt: skip
TARGET_SCALINGS = ("max_abs", "none")
EARLY_STOPPING = ("validation_year", "random_sample")
SPLITS = ("train", "validation", "test")
_STATE_VERSION = 1

log = logging.getLogger("gravsep.network.training")


# --------------------------------------------------------------------------- files


def read_dataset(path, years=None):
    """Read a dataset file into memory.

    Parameters
    ----------
    path : path-like
        HDF5 written by the dataset stage.
    years : iterable of int, optional
        Years to read; default all under ``/years``.

    Returns
    -------
    dict
        ``components`` (list of str), ``sampling``, ``dim``, ``lat``, ``lon``,
        ``train_years``, ``validation_years``, ``test_years`` (lists of int) and ``years``:
        ``{year: {"input": (S, dim, dim), "target": (S, dim, dim, C), "numt": int}}``
        (float32).
    """
    out = {}
    with h5py.File(path, "r") as f:
        a = f.attrs
        out["components"] = [
            c.decode() if isinstance(c, bytes) else str(c) for c in a["components"]
        ]
        sampling = a["sampling"]
        out["sampling"] = sampling.decode() if isinstance(sampling, bytes) else str(sampling)
        out["dim"] = int(a["dim"])
        for key in ("train_years", "validation_years", "test_years"):
            out[key] = [int(y) for y in np.atleast_1d(a.get(key, []))]
        out["lat"] = f["lat"][()] if "lat" in f else None
        out["lon"] = f["lon"][()] if "lon" in f else None
        available = sorted(int(y) for y in f["years"])
        wanted = available if years is None else sorted({int(y) for y in years})
        missing = sorted(set(wanted) - set(available))
        if missing:
            raise ValueError(f"{path}: years {missing} not in the dataset (has {available})")
        out["years"] = {}
        for y in wanted:
            g = f["years"][str(y)]
            x = np.asarray(g["input"][()], dtype=np.float32)
            t = np.asarray(g["target"][()], dtype=np.float32)
            if t.shape[:3] != x.shape or t.shape[-1] != len(out["components"]):
                raise ValueError(f"{path}: year {y}: input {x.shape} and target {t.shape} differ")
            out["years"][y] = {"input": x, "target": t, "numt": int(g.attrs.get("numt", -1))}
    return out


def _split(data, years):
    dim, n_comp = data["dim"], len(data["components"])
    if not years:
        return (np.zeros((0, dim, dim), np.float32), np.zeros((0, dim, dim, n_comp), np.float32))
    x = np.concatenate([data["years"][y]["input"] for y in years])
    t = np.concatenate([data["years"][y]["target"] for y in years])
    return x, t


def compute_scales(x_train, y_train, mode):
    """Scales that map physical units (metres) to network units.

    Parameters
    ----------
    x_train : numpy.ndarray
        Training inputs ``(N, rows, cols)``.
    y_train : numpy.ndarray
        Training targets ``(N, rows, cols, C)``.
    mode : {"max_abs", "none"}
        ``max_abs``: each target channel's max ``|value|`` over the training years, and the
        input's max ``|value|``; ``none``: all 1 (the reference's raw metres).

    Returns
    -------
    target_scales : numpy.ndarray
        ``(C,)`` float64; network target = target / scale.
    input_scale : float
        Network input = input / input_scale.
    """
    n_comp = y_train.shape[-1]
    if mode == "none":
        return np.ones(n_comp), 1.0
    if mode != "max_abs":
        raise ValueError(f"unknown target_scaling {mode!r}; one of {TARGET_SCALINGS}")
    scales = np.abs(y_train).max(axis=(0, 1, 2)).astype(np.float64)
    scales = np.where(scales > 0, scales, 1.0)
    input_scale = float(np.abs(x_train).max()) if x_train.size else 1.0
    return scales, (input_scale if input_scale > 0 else 1.0)


def _validate(network, training, data):
    from gravsep.network import augment, unet

    missing = [k for k in unet.NETWORK_KEYS if k not in network]
    missing += [k for k in TRAINING_KEYS if k not in training]
    if missing:
        raise ValueError(f"configuration lacks {missing}")
    if training.get("target_scaling", "max_abs") not in TARGET_SCALINGS:
        raise ValueError(f"target_scaling must be one of {TARGET_SCALINGS}")
    if training.get("early_stopping", "validation_year") not in EARLY_STOPPING:
        raise ValueError(f"early_stopping must be one of {EARLY_STOPPING}")
    if len(training["component_weights"]) != len(data["components"]):
        raise ValueError(
            f"component_weights {training['component_weights']} do not match the dataset's "
            f"components {data['components']}"
        )
    for key in ("epochs", "batch_size"):
        if int(training[key]) < 1:
            raise ValueError(f"training.{key} must be >= 1")
    if not data["train_years"]:
        raise ValueError("the dataset names no training years")
    if not data["validation_years"]:
        raise ValueError("the dataset names no validation years (early stopping needs them)")
    augment.specs_for(data["components"], training.get("augmentation"))


def configure_tensorflow(threads=None, seed=None):
    """Thread pools, op determinism and the global seeds.

    Thread settings only take effect before TensorFlow's runtime starts; later calls keep the
    existing pools (logged).
    """
    import keras
    import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(min(2, int(threads)))
        except RuntimeError:
            log.info("TensorFlow already initialised; keeping its thread pools")
    tf.config.experimental.enable_op_determinism()
    if seed is not None:
        keras.utils.set_random_seed(int(seed))


def versions():
    """Versions of the packages a trained model depends on."""
    out = {"python": platform.python_version()}
    for name in ("gravsep", "tensorflow", "tensorflow-cpu", "keras", "numpy", "h5py"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _fingerprint(dataset_h5, network, training):
    st = os.stat(dataset_h5)
    blob = json.dumps(
        {
            "v": _STATE_VERSION,
            "network": network,
            "training": training,
            "dataset": [str(Path(dataset_h5).resolve()), st.st_size, st.st_mtime_ns],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _plain(obj):
    """Turn numpy scalars/arrays inside ``obj`` into plain Python for YAML/JSON."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _epoch_seed(seed, epoch):
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0])


# --------------------------------------------------------------------------- state


def _save_state(state_dir, fingerprint, epoch, model, optimizer, best_weights, info):
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / f"epoch-{epoch:05d}.h5"
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["fingerprint"] = fingerprint
        f.attrs["epoch"] = epoch
        f.attrs["info"] = json.dumps(_plain(info))
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


def _load_state(state_dir, fingerprint):
    """The latest readable state with this fingerprint, or None."""
    for path in sorted(Path(state_dir).glob("epoch-*.h5"), reverse=True):
        try:
            with h5py.File(path, "r") as f:
                if f.attrs["fingerprint"] != fingerprint:
                    log.info("ignoring %s: written for another configuration", path)
                    return None
                groups = {
                    g: [f[g][f"{i:05d}"][()] for i in range(int(f[g].attrs["n"]))]
                    for g in ("model", "optimizer", "best")
                }
                return int(f.attrs["epoch"]), json.loads(f.attrs["info"]), groups
        except (OSError, KeyError, ValueError) as err:
            log.warning("ignoring unreadable state %s: %s", path, err)
    return None


# --------------------------------------------------------------------------- data sources


def default_in_memory_limit():
    """Bytes of samples held in memory before training streams from the file instead.

    A quarter of the machine's physical memory, at most 8 GiB; the environment variable
    ``GRAVSEP_IN_MEMORY_LIMIT`` (bytes) overrides it.
    """
    env = os.environ.get("GRAVSEP_IN_MEMORY_LIMIT")
    if env:
        return int(float(env))
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        physical = 16 * 2**30
    return int(min(8 * 2**30, physical // 4))


class SampleSource:
    """The samples of some years of a dataset file: in memory, or read by chunks.

    In memory, the years are read once into two arrays. Streaming, nothing is held: every pass
    opens the file once and reads ``chunk`` consecutive samples of a year at a time (never one
    sample per read).

    Parameters
    ----------
    path : path-like
        Dataset file.
    years : list of int
    in_memory : bool
    chunk : int
        Samples per read when streaming.
    """

    def __init__(self, path, years, in_memory, chunk=64):
        self.path = Path(path)
        self.years = [int(y) for y in years]
        self.in_memory = bool(in_memory)
        self.chunk = max(1, int(chunk))
        with h5py.File(self.path, "r") as f:
            self.counts = [int(f["years"][str(y)]["input"].shape[0]) for y in self.years]
        self.n = int(sum(self.counts))
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.x = self.y = None
        if self.in_memory:
            self.x, self.y = self._read_all()

    def _read_all(self):
        xs, ys = [], []
        with h5py.File(self.path, "r") as f:
            for y in self.years:
                g = f["years"][str(y)]
                xs.append(np.asarray(g["input"][()], np.float32))
                ys.append(np.asarray(g["target"][()], np.float32))
        return np.concatenate(xs), np.concatenate(ys)

    def chunk_list(self):
        """``(global start, year index, start, stop)`` of every read, in file order."""
        out = []
        for k, count in enumerate(self.counts):
            for a in range(0, count, self.chunk):
                out.append((int(self.offsets[k]) + a, k, a, min(a + self.chunk, count)))
        return out

    def chunks(self, order=None):
        """Yield ``(first global index, input, target)`` per chunk (file order or ``order``)."""
        parts = self.chunk_list()
        if order is not None:
            parts = [parts[i] for i in order]
        if self.in_memory:
            for g0, _k, a, b in parts:
                yield g0, self.x[g0 : g0 + b - a], self.y[g0 : g0 + b - a]
            return
        with h5py.File(self.path, "r") as f:
            for g0, k, a, b in parts:
                grp = f["years"][str(self.years[k])]
                x = np.asarray(grp["input"][a:b], np.float32)
                yield g0, x, np.asarray(grp["target"][a:b], np.float32)

    def batches(self, size):
        """Yield ``(input, target)`` batches of at most ``size`` samples in file order."""
        for _g0, x, y in self.chunks():
            for i in range(0, len(x), size):
                yield x[i : i + size], y[i : i + size]

    def sample(self, i):
        """One sample ``(input (1, r, c), target (1, r, c, C))`` by global index."""
        if self.in_memory:
            return self.x[i : i + 1], self.y[i : i + 1]
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        a = int(i - self.offsets[k])
        with h5py.File(self.path, "r") as f:
            g = f["years"][str(self.years[k])]
            x = np.asarray(g["input"][a : a + 1], np.float32)
            return x, np.asarray(g["target"][a : a + 1], np.float32)

    def scales(self, mode, n_comp):
        """:func:`compute_scales` over all samples, chunk by chunk."""
        if mode == "none" or self.n == 0:
            return compute_scales(np.zeros((0, 1, 1)), np.zeros((0, 1, 1, n_comp)), mode)
        t_max, x_max = np.zeros(n_comp), 0.0
        for _g0, x, y in self.chunks():
            t_max = np.maximum(t_max, np.abs(y).max(axis=(0, 1, 2)))
            x_max = max(x_max, float(np.abs(x).max()))
        # compute_scales on the maxima themselves gives the same scales.
        return compute_scales(np.array([[[x_max]]]), t_max.reshape(1, 1, 1, n_comp), mode)


def _dataset_meta(path):
    with h5py.File(path, "r") as f:
        a = f.attrs
        components = [c.decode() if isinstance(c, bytes) else str(c) for c in a["components"]]
        sampling = a["sampling"]
        meta = {
            "components": components,
            "sampling": sampling.decode() if isinstance(sampling, bytes) else str(sampling),
            "dim": int(a["dim"]),
        }
        for key in ("train_years", "validation_years", "test_years"):
            meta[key] = [int(y) for y in np.atleast_1d(a.get(key, []))]
        available = {int(y) for y in f["years"]}
        for key in ("train_years", "validation_years", "test_years"):
            missing = sorted(set(meta[key]) - available)
            if missing:
                raise ValueError(f"{path}: {key} {missing} not in the dataset")
        for y in sorted(available):
            g = f["years"][str(y)]
            xs, ts = g["input"].shape, g["target"].shape
            if ts[:3] != xs or ts[-1] != len(components):
                raise ValueError(f"{path}: year {y}: input {xs} and target {ts} differ")
    return meta


# --------------------------------------------------------------------------- devices


SWITCHES = ("auto", "on", "off")


def resolve_switch(value, key):
    """``auto`` -> on when a GPU is visible; ``on``/``off`` (or booleans) as given."""
    if isinstance(value, bool):
        return value
    value = "auto" if value is None else str(value)
    if value not in SWITCHES:
        raise ValueError(f"training.{key} must be one of {SWITCHES}, got {value!r}")
    if value == "auto":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return value == "on"


def distribution_strategy(devices=None):
    """MirroredStrategy over ``devices`` or over all visible GPUs when there are several.

    Returns ``None`` for a single device (no strategy: plain ``tf.function`` steps).
    """
    import tensorflow as tf

    if devices is None:
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] if len(gpus) > 1 else None
    if devices and len(devices) > 1:
        return tf.distribute.MirroredStrategy(devices=list(devices))
    return None


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
def _sigterm_watch():
    """Set ``flag["term"]`` on SIGTERM while training (main thread only)."""
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


# --------------------------------------------------------------------------- trainer


class Trainer:
    """Model, optimiser, input pipeline and compiled steps of one training configuration.

    :func:`train` drives it; benchmarks and tests use its parts. Build it after
    :func:`configure_tensorflow`.

    Parameters
    ----------
    dataset_h5, network, training
        As for :func:`train`.
    in_memory_limit : int, optional
        Bytes of samples (all splits) kept in memory; above it, samples are streamed from the
        file by chunks. Default :func:`default_in_memory_limit`.
    devices : list of str, optional
        Devices of a MirroredStrategy; default every visible GPU if there are several.
    eval_batch_size : int, optional
        See :func:`train`.
    """

    def __init__(self, dataset_h5, network, training, *, in_memory_limit=None, devices=None,
                 eval_batch_size=None, chunk=64):  # fmt: skip
        import keras
        import tensorflow as tf

        from gravsep.network import augment
        from gravsep.network.losses import SeparationLoss
        from gravsep.network.unet import build_unet

        self.dataset_h5 = Path(dataset_h5)
        self.network = _plain(dict(network))
        self.training = _plain(dict(training))
        meta = _dataset_meta(dataset_h5)
        self.meta = meta
        _validate(self.network, self.training, meta)
        self.components, self.dim = meta["components"], meta["dim"]
        self.n_comp = n_comp = len(self.components)
        dim = self.dim
        self.split_years = {s: meta[f"{s}_years"] for s in SPLITS}

        # ---- where the samples live
        n_all = 0
        with h5py.File(dataset_h5, "r") as f:
            for s in SPLITS:
                n_all += sum(f["years"][str(y)]["input"].shape[0] for y in self.split_years[s])
        nbytes = n_all * dim * dim * (1 + n_comp) * 4
        limit = default_in_memory_limit() if in_memory_limit is None else int(in_memory_limit)
        self.in_memory = nbytes <= limit
        chunk = max(1, min(int(chunk), max(1, 2**26 // (dim * dim * (1 + n_comp) * 4))))
        self.sources = {
            s: SampleSource(dataset_h5, self.split_years[s], self.in_memory, chunk) for s in SPLITS
        }
        log.info(
            "samples %s (%.3g GiB): %s", {s: self.sources[s].n for s in SPLITS}, nbytes / 2**30,
            "in memory" if self.in_memory else f"streamed from the file by chunks of {chunk}",
        )  # fmt: skip

        self.seed = int(self.training["seed"])
        self.scaling = self.training.get("target_scaling", "max_abs")
        self.target_scales, self.input_scale = self.sources["train"].scales(self.scaling, n_comp)
        self.specs = augment.specs_for(self.components, self.training.get("augmentation"))
        self.augmenting = augment.is_active(self.specs)
        self.batch_size = int(self.training["batch_size"])
        if eval_batch_size is None:
            eval_batch_size = max(self.batch_size, min(64, max(1, 2**20 // (dim * dim))))
        self.eval_batch_size = int(eval_batch_size)

        # ---- precision, compilation, devices
        self.mixed = resolve_switch(self.training.get("mixed_precision", "auto"), "mixed_precision")
        self.xla = resolve_switch(self.training.get("xla", "auto"), "xla")
        self.strategy = distribution_strategy(devices)
        self.replicas = self.strategy.num_replicas_in_sync if self.strategy else 1
        log.info(
            "mixed precision %s, XLA %s, %d replica(s)",
            "on" if self.mixed else "off", "on" if self.xla else "off", self.replicas,
        )  # fmt: skip

        # ---- model, optimiser, loss
        previous_policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("mixed_float16" if self.mixed else "float32")
        try:
            keras.utils.set_random_seed(self.seed)
            with self.strategy.scope() if self.strategy else _nullcontext():
                self.model = build_unet(dim, n_comp, self.network)
                optimizer = keras.optimizers.Adam(
                    learning_rate=float(self.training["learning_rate"]),
                    beta_1=float(self.training["beta_1"]),
                    beta_2=float(self.training["beta_2"]),
                )
                if self.mixed:
                    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
                optimizer.build(self.model.trainable_variables)
                self.optimizer = optimizer
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        self.loss_fn = SeparationLoss.from_config(
            self.training, n_comp, meta["sampling"], target_scales=self.target_scales,
            input_scale=self.input_scale,
        )  # fmt: skip
        self._build_steps(tf, augment)

    # ---- compiled steps
    def _build_steps(self, tf, augment):
        dim, n_comp, model, optimizer = self.dim, self.n_comp, self.model, self.optimizer
        loss_fn, mixed, replicas = self.loss_fn, self.mixed, self.replicas
        self.scales_tf = scales_tf = tf.constant(self.target_scales.astype(np.float32))
        self.in_scale_tf = in_scale_tf = tf.constant(np.float32(self.input_scale))
        x_spec = tf.TensorSpec([None, dim, dim], tf.float32)
        y_spec = tf.TensorSpec([None, dim, dim, n_comp], tf.float32)

        def replica_step(x, y):
            with tf.GradientTape() as tape:
                pred = model(x[..., None], training=True)
                loss = loss_fn(x, y, pred)
                scaled = loss / replicas
                if mixed:
                    scaled = optimizer.scale_loss(scaled)
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss * tf.cast(tf.shape(x)[0], loss.dtype)

        if self.strategy is None:
            step = tf.function(replica_step, input_signature=[x_spec, y_spec],
                               jit_compile=self.xla)  # fmt: skip
        else:
            strategy = self.strategy
            inner = tf.function(replica_step, jit_compile=self.xla)

            @tf.function
            def step(x, y):
                per_replica = strategy.run(inner, args=(x, y))
                return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

        self.train_step = step  # returns the loss summed over the batch's samples

        @tf.function(input_signature=[x_spec, y_spec], jit_compile=self.xla)
        def eval_step(x, y):
            x, y = x / in_scale_tf, y / scales_tf
            pred = tf.cast(model(x[..., None], training=False), tf.float32)
            terms = loss_fn.terms(x, y, pred)
            n = tf.cast(tf.shape(x)[0], tf.float32)
            sse = tf.reduce_sum(tf.square((pred - y) * scales_tf), axis=[0, 1, 2])
            return terms["total"] * n, sse

        self.eval_step = eval_step
        self._augment = augment

    def prepare(self, x, y, s):
        """Graph op of the input pipeline: augment (seeded by ``s``), re-sum, scale."""
        if self.augmenting:
            x, y = self._augment.augment_pair(y, self.specs, s)
        return x / self.in_scale_tf, y / self.scales_tf

    @property
    def steps_per_epoch(self):
        return math.ceil(self.sources["train"].n / self.batch_size)

    def _sample_seed_base(self, epoch):
        # Augmentation seed of sample i in an epoch: (seed * 2**20 + epoch, i).
        return self.seed * 2**20 + epoch

    def make_dataset(self, epoch):
        """The training batches of one epoch (see :meth:`epochs_dataset`)."""
        return self.epochs_dataset(epoch, epoch + 1)

    def epochs_dataset(self, first, last):
        """Shuffled, augmented, batched and prefetched training data of epochs first..last-1.

        One pipeline for all epochs (traced once, prefetching across epoch boundaries); each
        epoch gives :attr:`steps_per_epoch` batches. The order and the augmentation draws are
        functions of (seed, epoch, sample), so a resumed run repeats exactly what an
        uninterrupted one does. In memory, the order is a permutation of all samples drawn in
        the graph; streamed, a permutation of the chunks and of the samples within each chunk.
        """
        import tensorflow as tf

        src = self.sources["train"]
        dim, n_comp, seed, n = self.dim, self.n_comp, self.seed, src.n
        if src.in_memory:
            if not hasattr(self, "_train_tensors"):
                with tf.device("/cpu:0"):
                    self._train_tensors = (tf.constant(src.x), tf.constant(src.y))
            x_all, y_all = self._train_tensors

            def one_epoch(e):
                key = tf.stack([tf.constant(seed, tf.int64), e])
                order = tf.argsort(tf.random.stateless_uniform([n], seed=key))
                base = tf.constant(seed * 2**20, tf.int64) + e

                def gather(i):
                    i = tf.cast(i, tf.int64)
                    return tf.gather(x_all, i), tf.gather(y_all, i), tf.stack([base, i])

                ds = tf.data.Dataset.from_tensor_slices(order)
                return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        else:
            parts = src.chunk_list()

            def gen(e):
                e = int(e)
                rng = np.random.default_rng(_epoch_seed(seed, e))
                chunk_order = rng.permutation(len(parts))
                inner = [rng.permutation(parts[i][3] - parts[i][2]) for i in chunk_order]
                base = self._sample_seed_base(e)
                for (g0, x, y), perm in zip(src.chunks(chunk_order), inner, strict=True):
                    idx = (g0 + perm).astype(np.int64)
                    seeds = np.stack([np.full_like(idx, base), idx], axis=1)
                    yield x[perm], y[perm], seeds

            def one_epoch(e):
                return tf.data.Dataset.from_generator(
                    gen,
                    args=(e,),
                    output_signature=(
                        tf.TensorSpec([None, dim, dim], tf.float32),
                        tf.TensorSpec([None, dim, dim, n_comp], tf.float32),
                        tf.TensorSpec([None, 2], tf.int64),
                    ),
                ).unbatch()

        def batches(e):
            ds = one_epoch(e)
            ds = ds.map(self.prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            return ds.batch(self.batch_size)

        ds = tf.data.Dataset.range(first, last).flat_map(batches)
        ds = ds.prefetch(tf.data.AUTOTUNE)
        if self.strategy is not None:
            ds = self.strategy.experimental_distribute_dataset(ds)
        return ds

    def evaluate(self, split):
        """Mean loss (network units, dropout off) and RMS per component (metres) of a split."""
        src = self.sources[split]
        if src.n == 0:
            return math.nan, np.full(self.n_comp, np.nan)
        loss_sum, sse = 0.0, np.zeros(self.n_comp)
        for x, y in src.batches(self.eval_batch_size):
            lsum, s = self.eval_step(x, y)
            loss_sum += float(lsum)
            sse += s.numpy()
        return loss_sum / src.n, np.sqrt(sse / (src.n * self.dim * self.dim))

    def sample_loss(self, split, i):
        """Loss of one sample (dropout off)."""
        x, y = self.sources[split].sample(i)
        return float(self.eval_step(x, y)[0])

    def batch_size_of(self, xb):
        if self.strategy is None:
            return int(xb.shape[0])
        return int(sum(int(t.shape[0]) for t in self.strategy.experimental_local_results(xb)))


@contextmanager
def _nullcontext():
    yield


def _write_summaries(writer, history, components, first, last):
    """TensorBoard scalars of epochs ``first``..``last`` (1-based) from the history."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    # tf.summary.write with the scalar plugin's metadata is what tf.summary.scalar writes, but
    # needs no tensorboard package (tensorflow-cpu does not depend on it).
    plugin = summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    metadata = summary_pb2.SummaryMetadata(plugin_data=plugin).SerializeToString()

    def scalar(tag, value, step):
        tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step, metadata=metadata)

    with writer.as_default():
        for e in range(first, last + 1):
            i = e - 1
            scalar("loss/train", history["loss"][i], e)
            scalar("loss/validation", history["val_loss"][i], e)
            scalar("loss/monitor", history["monitor"][i], e)
            scalar("time/epoch_seconds", history["epoch_seconds"][i], e)
            for s in SPLITS:
                for c, value in zip(components, history[f"rms_{s}"][i], strict=True):
                    scalar(f"rms_{s}/{c}", value, e)
    writer.flush()


# --------------------------------------------------------------------------- training


def train(
    dataset_h5,
    network,
    training,
    weights_path,
    model_path,
    log_path,
    params_path,
    *,
    threads=None,
    model_name=None,
    state_dir=None,
    resume=True,
    eval_batch_size=None,
    stop_after=None,
    tensorboard_dir=None,
    in_memory_limit=None,
    devices=None,
):
    """Train a U-Net on a dataset file and write the outputs (see the module docstring).

    Parameters
    ----------
    dataset_h5 : path-like
        Dataset file (layout in :func:`read_dataset`).
    network : dict
        Resolved ``network`` configuration (:func:`gravsep.network.unet.build_unet`).
    training : dict
        Resolved ``training`` configuration: ``seed``, ``epochs``, ``min_epochs``,
        ``patience``, ``batch_size``, ``learning_rate``, ``beta_1``, ``beta_2``, ``loss_type``,
        ``component_weights``, ``sum_weight``, ``slope_weight``, ``shape_weight``,
        ``target_scaling`` (default ``max_abs``), ``early_stopping`` (default
        ``validation_year``), ``augmentation`` (default none), ``mixed_precision`` and
        ``xla`` (``auto``/``on``/``off``, default ``auto``: on with a GPU); other keys are
        recorded only.
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
        Folder of TensorBoard event files (per-epoch losses, RMS per split and component,
        epoch time); rewritten from the history on resume.
    in_memory_limit : int, optional
        See :class:`Trainer`.
    devices : list of str, optional
        Devices to mirror over (default: all GPUs when there are several).

    Returns
    -------
    dict
        ``best_epoch``, ``stopped_epoch``, ``epochs_run`` (this call), ``history`` and
        ``seconds`` (this call), or ``None`` when ``stop_after`` ended the call early.

    Raises
    ------
    TrainingInterrupted
        On SIGTERM (e.g. a SLURM time limit): the current epoch is abandoned, the state of
        the last completed epoch stays for a rerun, and no outputs are written.
    """
    configure_tensorflow(threads, training.get("seed"))
    import tensorflow as tf

    t_start = time.perf_counter()
    model_path = Path(model_path)
    model_name = model_name or model_path.parent.name
    state_dir = Path(state_dir) if state_dir is not None else model_path.parent / "state"
    tr = Trainer(dataset_h5, network, training, in_memory_limit=in_memory_limit,
                 devices=devices, eval_batch_size=eval_batch_size)  # fmt: skip
    network, training = tr.network, tr.training
    model, optimizer, components, seed = tr.model, tr.optimizer, tr.components, tr.seed
    log.info(
        "model %s: %d parameters; %d components %s, dim %d, %s; scales %s, input %.4g",
        model_name, model.count_params(), tr.n_comp, components, tr.dim, tr.meta["sampling"],
        tr.target_scales, tr.input_scale,
    )  # fmt: skip

    # ---- state
    fingerprint = _fingerprint(dataset_h5, network, training)
    keys = ("loss", "val_loss", "monitor", "epoch_seconds")
    history = {k: [] for k in keys} | {f"rms_{s}": [] for s in SPLITS}
    best = {"value": math.inf, "epoch": 0, "wait": 0}
    best_weights = None
    start_epoch = 0
    if resume and state_dir.exists():
        loaded = _load_state(state_dir, fingerprint)
        if loaded is not None:
            start_epoch, info, groups = loaded
            for v, a in zip(model.variables, groups["model"], strict=True):
                v.assign(a)
            for v, a in zip(optimizer.variables, groups["optimizer"], strict=True):
                v.assign(a)
            best_weights = groups["best"] or None
            history, best = info["history"], info["best"]
            log.info("resuming after epoch %d (best epoch %d)", start_epoch, best["epoch"])
    if start_epoch == 0 and state_dir.exists():
        shutil.rmtree(state_dir)
    writer = None
    if tensorboard_dir is not None:
        tensorboard_dir = Path(tensorboard_dir)
        shutil.rmtree(tensorboard_dir, ignore_errors=True)
        tensorboard_dir.mkdir(parents=True)
        writer = tf.summary.create_file_writer(str(tensorboard_dir))
        _write_summaries(writer, history, components, 1, start_epoch)

    epochs, min_epochs = int(training["epochs"]), int(training.get("min_epochs", 0))
    patience = int(training.get("patience", epochs))
    mode = training.get("early_stopping", "validation_year")
    n_val = tr.sources["validation"].n
    epoch, run_here, stopped = start_epoch, 0, False
    batches = iter(tr.epochs_dataset(start_epoch, epochs)) if start_epoch < epochs else None
    with _sigterm_watch() as flag:
        while epoch < epochs and not stopped:
            if flag["term"]:
                break
            t0 = time.perf_counter()
            total, count = 0.0, 0
            for _ in range(tr.steps_per_epoch):
                if flag["term"]:
                    break
                xb, yb = next(batches)
                total += float(tr.train_step(xb, yb))
                count += tr.batch_size_of(xb)
            if flag["term"]:
                break
            t1 = time.perf_counter()
            val_loss, rms_val = tr.evaluate("validation")
            _, rms_train = tr.evaluate("train")
            _, rms_test = tr.evaluate("test")
            if mode == "validation_year":
                monitor = val_loss
            else:
                rng = np.random.default_rng(int(_epoch_seed(seed, epoch)) + 1)
                monitor = tr.sample_loss("validation", int(rng.integers(n_val)))
            t2 = time.perf_counter()
            epoch += 1
            run_here += 1
            if monitor < best["value"]:
                best.update(value=monitor, epoch=epoch, wait=0)
                best_weights = [w.copy() for w in model.get_weights()]
                with atomic_output(weights_path) as tmp:
                    model.save_weights(tmp)
            else:
                best["wait"] += 1
            stopped = epoch >= min_epochs and best["wait"] >= patience
            seconds = time.perf_counter() - t0
            values = (total / count, val_loss, monitor, seconds, rms_train, rms_val, rms_test)
            for k, v in zip(keys + tuple(f"rms_{s}" for s in SPLITS), values, strict=True):
                history[k].append(_plain(v))
            info = {"history": history, "best": best}
            t3 = time.perf_counter()
            _save_state(state_dir, fingerprint, epoch, model, optimizer, best_weights, info)
            if writer is not None:
                _write_summaries(writer, history, components, epoch, epoch)
            log.info(
                "epoch %d/%d: loss %.5g, val_loss %.5g, monitor %.5g%s; rms val %s m; "
                "%.2f s (train %.2f, evaluation %.2f; state %.2f)",
                epoch, epochs, history["loss"][-1], val_loss, monitor,
                " (best)" if best["epoch"] == epoch else "",
                np.array2string(rms_val, precision=4), seconds, t1 - t0, t2 - t1,
                time.perf_counter() - t3,
            )  # fmt: skip
            if (stop_after is not None and run_here >= stop_after and epoch < epochs
                    and not stopped):  # fmt: skip
                log.info("stopping after %d epochs in this call (state kept)", run_here)
                if writer is not None:
                    writer.close()
                return None
    if writer is not None:
        writer.close()
    if flag["term"]:
        message = (
            f"training interrupted by SIGTERM after {epoch} completed epoch(s) of {epochs}; "
            f"rerun to resume from the state in {state_dir}"
        )
        log.error(message)
        raise TrainingInterrupted(message)
    if stopped:
        log.info("early stop after epoch %d; best epoch %d", epoch, best["epoch"])

    # ---- outputs
    if best_weights is None:  # the monitored loss never was finite
        log.warning("no epoch improved the monitored loss; keeping the last weights")
        best.update(epoch=epoch)
        best_weights = model.get_weights()
    model.set_weights(best_weights)
    with atomic_output(weights_path) as tmp:
        model.save_weights(tmp)
    with atomic_output(model_path) as tmp:
        model.save(tmp)
    with atomic_output(log_path) as tmp, h5py.File(tmp, "w") as f:
        for k, v in history.items():
            f.create_dataset(k, data=np.asarray(v, dtype=np.float64))
        f.attrs["best_epoch"] = int(best["epoch"])
        f.attrs["stopped_epoch"] = int(epoch)
        f.attrs["components"] = components
        f.attrs["early_stopping"] = mode
        f.attrs["min_epochs"] = min_epochs
        f.attrs["patience"] = patience
        f.attrs["units"] = "rms_*: metres"
    params = {
        "model": model_name,
        "dataset": str(dataset_h5),
        "components": components,
        "sampling": tr.meta["sampling"],
        "dim": tr.dim,
        "years": {s: tr.split_years[s] for s in SPLITS},
        "network": network,
        "training": training,
        "seed": seed,
        "scales": {
            "target_scaling": tr.scaling,
            "targets": {c: float(s) for c, s in zip(components, tr.target_scales, strict=True)},
            "input": float(tr.input_scale),
        },
        "parameters": int(model.count_params()),
        "best_epoch": int(best["epoch"]),
        "stopped_epoch": int(epoch),
        "execution": {
            "mixed_precision": tr.mixed,
            "xla": tr.xla,
            "replicas": tr.replicas,
            "in_memory": tr.in_memory,
        },
        "versions": versions(),
    }
    with atomic_output(params_path) as tmp, open(tmp, "w") as f:
        yaml.safe_dump(_plain(params), f, sort_keys=False)
    shutil.rmtree(state_dir, ignore_errors=True)
    seconds = time.perf_counter() - t_start
    log.info("done in %.1f s: best epoch %d of %d", seconds, best["epoch"], epoch)
    return {
        "best_epoch": int(best["epoch"]),
        "stopped_epoch": int(epoch),
        "epochs_run": run_here,
        "history": history,
        "seconds": seconds,
    }


def load_scales(params_path, components=None):
    """Target and input scales recorded in a parameters YAML.

    Returns
    -------
    target_scales : numpy.ndarray
        ``(C,)`` in the order of ``components`` (default: the recorded order).
    input_scale : float
    components : list of str
    """
    with open(params_path) as f:
        params = yaml.safe_load(f)
    recorded = params["scales"]["targets"]
    components = list(components or params["components"])
    return (
        np.array([recorded[c] for c in components], dtype=np.float64),
        float(params["scales"]["input"]),
        components,
    )
