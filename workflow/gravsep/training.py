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

Resume: after every epoch the complete training state (model variables including the dropout
seed states, optimiser variables, best weights, history, counters) goes to one file in a
``state/`` folder next to the model; a rerun with the same configuration and dataset continues
after the last completed epoch and gives the same result as an uninterrupted run. The folder is
removed after a successful run; a state from another configuration is ignored.
"""

import hashlib
import json
import logging
import math
import os
import platform
import shutil
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import h5py
import numpy as np
import yaml

#: Keys of a model's ``training`` configuration that :func:`train` needs.
TRAINING_KEYS = (
    "seed", "epochs", "min_epochs", "patience", "batch_size", "learning_rate", "beta_1",
    "beta_2", "loss_type", "component_weights", "sum_weight", "slope_weight", "shape_weight",
)  # fmt: skip
TARGET_SCALINGS = ("max_abs", "none")
EARLY_STOPPING = ("validation_year", "random_sample")
SPLITS = ("train", "validation", "test")
_STATE_VERSION = 1

log = logging.getLogger("gravsep.training")


# --------------------------------------------------------------------------- files


def _tmp_name(path):
    """A hidden temporary name next to ``path`` that keeps its suffixes (Keras checks them)."""
    path = Path(path)
    return path.with_name(f".tmp-{os.getpid()}-{path.name}")


@contextmanager
def atomic_path(path):
    """Yield a temporary path; on success rename it to ``path``, on error remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
    from gravsep import augment, unet

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
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
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
):
    """Train a U-Net on a dataset file and write the outputs (see the module docstring).

    Parameters
    ----------
    dataset_h5 : path-like
        Dataset file (layout in :func:`read_dataset`).
    network : dict
        Resolved ``network`` configuration (:func:`gravsep.unet.build_unet`).
    training : dict
        Resolved ``training`` configuration: ``seed``, ``epochs``, ``min_epochs``,
        ``patience``, ``batch_size``, ``learning_rate``, ``beta_1``, ``beta_2``, ``loss_type``,
        ``component_weights``, ``sum_weight``, ``slope_weight``, ``shape_weight``,
        ``target_scaling`` (default ``max_abs``), ``early_stopping`` (default
        ``validation_year``), ``augmentation`` (default none); other keys are recorded only.
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

    Returns
    -------
    dict
        ``best_epoch``, ``stopped_epoch``, ``epochs_run`` (this call), ``history`` and
        ``seconds`` (this call), or ``None`` when ``stop_after`` ended the call early.
    """
    configure_tensorflow(threads, training.get("seed"))
    import keras
    import tensorflow as tf

    from gravsep import augment
    from gravsep.losses import SeparationLoss
    from gravsep.unet import build_unet

    t_start = time.perf_counter()
    network = _plain(dict(network))
    training = _plain(dict(training))
    model_path = Path(model_path)
    model_name = model_name or model_path.parent.name
    state_dir = Path(state_dir) if state_dir is not None else model_path.parent / "state"

    data = read_dataset(dataset_h5)
    _validate(network, training, data)
    components, dim, n_comp = data["components"], data["dim"], len(data["components"])
    split_years = {s: data[f"{s}_years"] for s in SPLITS}
    raw = {s: _split(data, split_years[s]) for s in SPLITS}
    del data["years"]

    seed = int(training["seed"])
    scaling = training.get("target_scaling", "max_abs")
    target_scales, input_scale = compute_scales(*raw["train"], scaling)
    log.info(
        "%d components %s, dim %d, %s; samples: %s; scales %s, input %.4g",
        n_comp, components, dim, data["sampling"],
        {s: len(raw[s][0]) for s in SPLITS}, target_scales, input_scale,
    )  # fmt: skip
    ts32 = target_scales.astype(np.float32)
    scaled = {s: (raw[s][0] / np.float32(input_scale), raw[s][1] / ts32) for s in SPLITS}

    specs = augment.specs_for(components, training.get("augmentation"))
    augmenting = augment.is_active(specs)
    batch_size = int(training["batch_size"])
    if eval_batch_size is None:
        eval_batch_size = max(batch_size, min(64, max(1, 2**20 // (dim * dim))))

    # ---- model, optimiser, loss
    keras.utils.set_random_seed(seed)
    model = build_unet(dim, n_comp, network)
    optimizer = keras.optimizers.Adam(
        learning_rate=float(training["learning_rate"]),
        beta_1=float(training["beta_1"]),
        beta_2=float(training["beta_2"]),
    )
    optimizer.build(model.trainable_variables)
    loss_fn = SeparationLoss.from_config(
        training, n_comp, data["sampling"], target_scales=target_scales, input_scale=input_scale
    )
    log.info("model %s: %d parameters", model_name, model.count_params())

    x_spec = tf.TensorSpec([None, dim, dim], tf.float32)
    y_spec = tf.TensorSpec([None, dim, dim, n_comp], tf.float32)

    @tf.function(input_signature=[x_spec, y_spec])
    def train_step(x, y):
        with tf.GradientTape() as tape:
            pred = model(x[..., None], training=True)
            loss = loss_fn(x, y, pred)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    scales_tf = tf.constant(ts32)

    @tf.function(input_signature=[x_spec, y_spec])
    def eval_step(x, y):
        pred = model(x[..., None], training=False)
        terms = loss_fn.terms(x, y, pred)
        n = tf.cast(tf.shape(x)[0], tf.float32)
        sse = tf.reduce_sum(tf.square((pred - y) * scales_tf), axis=[0, 1, 2])
        return terms["total"] * n, sse

    def evaluate(split):
        x, y = scaled[split]
        if len(x) == 0:
            return math.nan, np.full(n_comp, np.nan)
        loss_sum, sse = 0.0, np.zeros(n_comp)
        for i in range(0, len(x), eval_batch_size):
            lsum, s = eval_step(x[i : i + eval_batch_size], y[i : i + eval_batch_size])
            loss_sum += float(lsum)
            sse += s.numpy()
        return loss_sum / len(x), np.sqrt(sse / (len(x) * dim * dim))

    x_train_raw, y_train_raw = raw["train"]
    n_train = len(x_train_raw)
    in_scale_tf = tf.constant(np.float32(input_scale))

    def make_dataset(epoch):
        # Seeded shuffle: the order and the augmentation draws are functions of (seed, epoch),
        # so a resumed run repeats exactly what an uninterrupted one would have done.
        order = np.random.default_rng(_epoch_seed(seed, epoch)).permutation(n_train)
        aug_seed = int(_epoch_seed(seed, epoch) % (2**31 - 1))

        def gen():
            for i in order:
                yield x_train_raw[i], y_train_raw[i], np.array([aug_seed, i], np.int64)

        ds = tf.data.Dataset.from_generator(
            gen,
            output_signature=(
                tf.TensorSpec([dim, dim], tf.float32),
                tf.TensorSpec([dim, dim, n_comp], tf.float32),
                tf.TensorSpec([2], tf.int64),
            ),
        )

        def prepare(x, y, s):
            if augmenting:
                x, y = augment.augment_pair(y, specs, s)
            return x / in_scale_tf, y / scales_tf

        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

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

    epochs, min_epochs = int(training["epochs"]), int(training.get("min_epochs", 0))
    patience = int(training.get("patience", epochs))
    mode = training.get("early_stopping", "validation_year")
    x_val, y_val = scaled["validation"]
    epoch, run_here, stopped = start_epoch, 0, False
    while epoch < epochs and not stopped:
        t0 = time.perf_counter()
        total, count = 0.0, 0
        for xb, yb in make_dataset(epoch):
            total += float(train_step(xb, yb)) * int(xb.shape[0])
            count += int(xb.shape[0])
        t1 = time.perf_counter()
        val_loss, rms_val = evaluate("validation")
        _, rms_train = evaluate("train")
        _, rms_test = evaluate("test")
        if mode == "validation_year":
            monitor = val_loss
        else:
            i = int(np.random.default_rng(int(_epoch_seed(seed, epoch)) + 1).integers(len(x_val)))
            monitor = float(eval_step(x_val[i : i + 1], y_val[i : i + 1])[0])
        t2 = time.perf_counter()
        epoch += 1
        run_here += 1
        if monitor < best["value"]:
            best.update(value=monitor, epoch=epoch, wait=0)
            best_weights = [w.copy() for w in model.get_weights()]
            with atomic_path(weights_path) as tmp:
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
        log.info(
            "epoch %d/%d: loss %.5g, val_loss %.5g, monitor %.5g%s; rms val %s m; "
            "%.2f s (train %.2f, evaluation %.2f; state %.2f)",
            epoch, epochs, history["loss"][-1], val_loss, monitor,
            " (best)" if best["epoch"] == epoch else "",
            np.array2string(rms_val, precision=4), seconds, t1 - t0, t2 - t1,
            time.perf_counter() - t3,
        )  # fmt: skip
        if stop_after is not None and run_here >= stop_after and epoch < epochs and not stopped:
            log.info("stopping after %d epochs in this call (state kept)", run_here)
            return None
    if stopped:
        log.info("early stop after epoch %d; best epoch %d", epoch, best["epoch"])

    # ---- outputs
    if best_weights is None:  # the monitored loss never was finite
        log.warning("no epoch improved the monitored loss; keeping the last weights")
        best.update(epoch=epoch)
        best_weights = model.get_weights()
    model.set_weights(best_weights)
    with atomic_path(weights_path) as tmp:
        model.save_weights(tmp)
    with atomic_path(model_path) as tmp:
        model.save(tmp)
    with atomic_path(log_path) as tmp, h5py.File(tmp, "w") as f:
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
        "sampling": data["sampling"],
        "dim": dim,
        "years": {s: split_years[s] for s in SPLITS},
        "network": network,
        "training": training,
        "seed": seed,
        "scales": {
            "target_scaling": scaling,
            "targets": {c: float(s) for c, s in zip(components, target_scales, strict=True)},
            "input": float(input_scale),
        },
        "parameters": int(model.count_params()),
        "best_epoch": int(best["epoch"]),
        "stopped_epoch": int(epoch),
        "versions": versions(),
    }
    with atomic_path(params_path) as tmp, open(tmp, "w") as f:
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
