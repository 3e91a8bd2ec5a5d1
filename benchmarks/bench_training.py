"""Training speed: the project's epoch against the original approach, and input overhead.

Usage::

    .venv/bin/python benchmarks/bench_training.py [--dim 64] [--repeats 3] [--epochs 3]

Everything runs in one process on the same model (U-Net 16..128 filters, 4 components), the same
batch size (8) and the same synthetic dataset (2 training years, 1 validation, 1 test year of
52 samples each, written to a temporary HDF5 file in the dataset stage's layout):

(a) Wall time of one training epoch including per-epoch monitoring and validation.
    *Project*: :func:`gravsep.network.training.train` (one tf.data pipeline with augmentation in the
    graph, batched graph-mode evaluation of every sample of every split); the epoch time is the
    median of the recorded ``epoch_seconds`` of epochs 2..k+1 (training pass, validation and
    RMS monitoring; the per-epoch state file, a few MB, is written outside that time and
    logged separately). *Original*: emulated here with the same model, loss and
    compiled training step, but samples read one by one from the HDF5 file and the batch
    tensors built per batch in Python; monitoring by eager forward passes on 100 random samples
    of the training, validation and test years each epoch, each sample read by reopening the
    file and wrapped in two one-element ``tf.data`` pipelines; early stopping on one random
    validation sample. Goal: original / project >= 1.5 on CPU.
(b) Input-pipeline overhead of the project: mean step time iterating the real training
    ``tf.data`` pipeline (shuffle, augmentation, scaling, batching, prefetch) against the same
    compiled step fed with in-memory random tensors. Goal: < 5 %.
(c) GPU: the project's epoch with mixed precision and XLA off and on; skipped (printed) when
    no GPU is visible.
(d) Full-size training step (``--full-dim``, default 512 x 512, filters 64..512, batch 1) on
    CPU: the paper's network (zero padding, one input channel, unweighted loss) against the
    one with the sphere options (``network.padding: periodic``, ``training.context_windows:
    2``, ``position_channels``, ``area_weighted_loss``), and the paper's network with the linear
    head (``network.linear_head``, of rank :data:`FULL_HEAD_RANK`, ten years of weekly training
    windows); median of ``--full-steps`` compiled steps after one warm-up; printed as the
    options' cost relative to the paper's step.

Timings are medians over ``--repeats`` repetitions. The last line prints the ratios.
"""

import argparse
import logging
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

COMPONENTS = ["AO", "H", "I", "S"]
YEARS = {"train_years": [2001, 2002], "validation_years": [2003], "test_years": [2004]}
NETWORK = {
    "num_filters_min": 16,
    "num_filters_max": 128,
    "filter_size": 4,
    "dropout": 0.5,
    "dropout_blocks": 3,
}
TRAINING = {
    "seed": 1,
    "epochs": 1,
    "min_epochs": 100,
    "patience": 100,
    "batch_size": 8,
    "learning_rate": 1e-3,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "loss_type": "signal_weighted_MSE",
    "component_weights": [1, 1, 1, 1],
    "sum_weight": 0,
    "slope_weight": 0,
    "shape_weight": 0,
    "target_scaling": "max_abs",
    "early_stopping": "validation_year",
    "inference_mode": "deterministic",
    "augmentation": {"S": {"contrast": [0.5, 2.0]}},
    "mixed_precision": "off",
    "xla": "off",
}
MONITOR_SAMPLES = 100


def write_dataset(path, dim, n_samples=52, seed=0):
    """Smooth random fields per component (metres), input = their sum."""
    rng = np.random.default_rng(seed)
    rows, cols = np.meshgrid(np.linspace(0, 1, dim), np.linspace(0, 1, dim), indexing="ij")
    amplitude = [0.05, 0.03, 0.01, 0.002]
    with h5py.File(path, "w") as f:
        f.attrs["components"] = COMPONENTS
        f.attrs["sampling"] = "lat_lon"
        f.attrs["dim"] = dim
        for key, years in YEARS.items():
            f.attrs[key] = years
        for year in sum(YEARS.values(), []):
            target = np.empty((n_samples, dim, dim, len(COMPONENTS)), np.float32)
            for c, amp in enumerate(amplitude):
                k = rng.integers(1, 4, size=(n_samples, 2, 1, 1))
                phase = rng.uniform(0, 2 * np.pi, size=(n_samples, 2, 1, 1))
                target[..., c] = amp * (
                    np.sin(2 * np.pi * k[:, 0] * rows + phase[:, 0])
                    * np.cos(2 * np.pi * k[:, 1] * cols + phase[:, 1])
                )
            g = f.create_group(f"years/{year}")
            g["input"] = target.sum(-1)
            g["target"] = target
            g.attrs["numt"] = n_samples
    return Path(path)


# --------------------------------------------------------------------------- (a) project


def project_epoch_seconds(dataset, folder, epochs, training=TRAINING):
    """Median wall time of epochs 2.. of :func:`gravsep.network.training.train` (training pass,
    validation, RMS of every split; the first epoch, with tracing, is left out)."""
    from gravsep.network.training import train

    out = Path(folder)
    result = train(
        dataset,
        NETWORK,
        training | {"epochs": 1 + epochs},
        weights_path=out / "best.weights.h5",
        model_path=out / "model.keras",
        log_path=out / "log.h5",
        params_path=out / "parameters.yaml",
        threads=2,
        resume=False,
    )
    return statistics.median(result["history"]["epoch_seconds"][1:])


# --------------------------------------------------------------------------- (a) original


class Original:
    """The original approach, emulated: per-sample reads, per-batch tensors, eager monitoring."""

    def __init__(self, dataset, training=TRAINING):
        import keras
        import tensorflow as tf
        from gravsep.network import augment
        from gravsep.network.losses import SeparationLoss
        from gravsep.network.training import compute_scales
        from gravsep.network.unet import build_unet

        self.tf = tf
        self.path = str(dataset)
        self.training = training
        with h5py.File(dataset) as f:
            self.dim = int(f.attrs["dim"])
            self.index = {
                split: [
                    (str(y), i)
                    for y in YEARS[f"{split}_years"]
                    for i in range(f[f"years/{y}/input"].shape[0])
                ]
                for split in ("train", "validation", "test")
            }
            x = np.concatenate([f[f"years/{y}/input"][()] for y in YEARS["train_years"]])
            t = np.concatenate([f[f"years/{y}/target"][()] for y in YEARS["train_years"]])
        self.scales, self.input_scale = compute_scales(x, t, training["target_scaling"])
        keras.utils.set_random_seed(training["seed"])
        self.model = build_unet(self.dim, len(COMPONENTS), NETWORK)
        self.optimizer = keras.optimizers.Adam(training["learning_rate"])
        self.loss_fn = SeparationLoss.from_config(
            training, len(COMPONENTS), "lat_lon", self.scales, self.input_scale
        )
        specs = augment.specs_for(COMPONENTS, training["augmentation"])
        model, optimizer, loss_fn = self.model, self.optimizer, self.loss_fn
        scales = tf.constant(self.scales.astype(np.float32))
        in_scale = np.float32(self.input_scale)

        @tf.function
        def augment_one(y, seed):
            return augment.augment_pair(y, specs, seed)

        self.augment_one = augment_one

        @tf.function
        def train_step(x, y):
            x, y = x / in_scale, y / scales
            with tf.GradientTape() as tape:
                pred = model(x[..., None], training=True)
                loss = loss_fn(x, y, pred)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss

        self.train_step = train_step
        self.rng = np.random.default_rng(training["seed"])

    def _read(self, f, split, k):
        year, i = self.index[split][k]
        return f[f"years/{year}/input"][i], f[f"years/{year}/target"][i]

    def epoch(self):
        tf = self.tf
        batch = self.training["batch_size"]
        order = self.rng.permutation(len(self.index["train"]))
        with h5py.File(self.path, "r") as f:
            for b in range(0, len(order), batch):
                xs, ys = [], []
                for k in order[b : b + batch]:
                    x, y = self._read(f, "train", k)  # one sample per read
                    x, y = self.augment_one(y, tf.constant([1, int(k)], tf.int64))
                    xs.append(x)
                    ys.append(y)
                self.train_step(tf.stack(xs), tf.stack(ys))  # tensors built per batch
        # Monitoring: eager forward passes on random samples, the file reopened per sample.
        scales = self.scales.astype(np.float32)
        for split in ("train", "validation", "test"):
            sse = np.zeros(len(COMPONENTS))
            picks = self.rng.integers(len(self.index[split]), size=MONITOR_SAMPLES)
            for k in picks:
                with h5py.File(self.path, "r") as f:
                    x, y = self._read(f, split, k)
                xd = tf.data.Dataset.from_tensor_slices(x[None] / np.float32(self.input_scale))
                yd = tf.data.Dataset.from_tensor_slices(y[None])
                for xb, yb in zip(xd.batch(1), yd.batch(1), strict=True):
                    pred = self.model(xb[..., None], training=False).numpy() * scales
                    sse += ((pred - yb.numpy()) ** 2).sum(axis=(0, 1, 2))
            _ = np.sqrt(sse / (MONITOR_SAMPLES * self.dim**2))
        # Early stopping on one random validation sample.
        k = int(self.rng.integers(len(self.index["validation"])))
        with h5py.File(self.path, "r") as f:
            x, y = self._read(f, "validation", k)
        x = x[None] / np.float32(self.input_scale)
        pred = self.model(x[..., None], training=False)
        float(self.loss_fn(x, y[None] / self.scales.astype(np.float32), pred))


def original_epoch_seconds(dataset, epochs):
    orig = Original(dataset)
    orig.epoch()  # warm-up: tracing
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        orig.epoch()
        times.append(time.perf_counter() - t0)
    return statistics.mean(times)


# --------------------------------------------------------------------------- (b) overhead


def pipeline_overhead(dataset, epochs):
    """(step seconds with real input, with in-memory random tensors), medians over epochs."""
    import tensorflow as tf
    from gravsep.network.training import Trainer

    tr = Trainer(dataset, NETWORK, TRAINING)
    n_steps = math.ceil(tr.sources["train"].n / tr.batch_size)
    rng = np.random.default_rng(0)
    full = n_steps * tr.batch_size
    n_last = tr.sources["train"].n - (n_steps - 1) * tr.batch_size
    channels = tr.features.channels
    fake = [
        (
            tf.constant(rng.normal(size=(b, tr.dim, tr.dim, channels)).astype(np.float32)),
            tf.constant(rng.normal(size=(b, tr.dim, tr.dim, tr.n_comp)).astype(np.float32)),
            tf.ones([b], tf.float32),
        )
        for b in [tr.batch_size] * (n_steps - 1) + [n_last]
    ]
    assert sum(int(x.shape[0]) for x, _, _ in fake) == tr.sources["train"].n <= full

    batches = iter(tr.epochs_dataset(0, 2 * epochs + 2))  # one pipeline, as train() uses it

    def real_epoch(e):
        t0 = time.perf_counter()
        for _ in range(n_steps):
            xb, yb, wb = next(batches)
            float(tr.train_step(xb, yb, wb))
        return (time.perf_counter() - t0) / n_steps

    def fake_epoch():
        t0 = time.perf_counter()
        for xb, yb, wb in fake:
            float(tr.train_step(xb, yb, wb))
        return (time.perf_counter() - t0) / n_steps

    real_epoch(0)
    fake_epoch()
    real, synthetic = [], []
    for e in range(1, epochs + 1):  # interleaved, so load changes hit both alike
        real.append(real_epoch(e))
        synthetic.append(fake_epoch())
    return statistics.median(real), statistics.median(synthetic)


#: Rank of the full-size linear head: the training windows of ten years of weekly means.
FULL_HEAD_RANK = 520


def full_size_step_seconds(dim, steps, sphere_options, linear_head=False):
    """Median seconds of one compiled training step of the full-size network (batch 1)."""
    import keras
    import tensorflow as tf
    from gravsep.network.features import InputFeatures
    from gravsep.network.losses import SeparationLoss, area_weights
    from gravsep.network.unet import build_unet

    features = InputFeatures(2, True) if sphere_options else InputFeatures()
    network = NETWORK | {"num_filters_min": 64, "num_filters_max": 512,
                         "padding": "periodic" if sphere_options else "zeros",
                         "linear_head": linear_head}  # fmt: skip
    keras.utils.set_random_seed(1)
    model = build_unet(dim, len(COMPONENTS), network, in_channels=features.channels,
                       linear_head=FULL_HEAD_RANK if linear_head else None)  # fmt: skip
    rows = area_weights(90 - 180 * np.arange(dim) / dim) if sphere_options else None
    loss_fn = SeparationLoss(len(COMPONENTS), "signal_weighted_MSE", row_weights=rows)
    optimizer = keras.optimizers.Adam(1e-5)
    rng = np.random.default_rng(0)
    y = tf.constant(rng.uniform(-0.5, 0.5, (1, dim, dim, len(COMPONENTS))).astype(np.float32))
    x = tf.constant(rng.uniform(-1, 1, (1, dim, dim, features.channels)).astype(np.float32))

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(x, y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    float(step(x, y))  # trace and warm up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        float(step(x, y))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --------------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per repetition")
    parser.add_argument("--full-dim", type=int, default=512, help="image size of (d)")
    parser.add_argument("--full-steps", type=int, default=2, help="timed steps of (d)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from gravsep.network.training import configure_tensorflow

    configure_tensorflow(threads=2, seed=1)
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}; {args.dim}x{args.dim}, batch 8, filters 16..128")
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_dataset(Path(tmp) / "samples.h5", args.dim)

        # (a)
        project, original = [], []
        for r in range(args.repeats):
            project.append(project_epoch_seconds(dataset, Path(tmp) / f"p{r}", args.epochs))
            original.append(original_epoch_seconds(dataset, args.epochs))
            print(f"  repeat {r + 1}: project {project[-1]:.3f} s, original {original[-1]:.3f} s")
        p, o = statistics.median(project), statistics.median(original)
        speedup = o / p
        print(f"(a) epoch incl. monitoring and validation: project {p:.3f} s, "
              f"original {o:.3f} s -> {speedup:.2f}x faster (goal >= 1.5x)")  # fmt: skip

        # (b)
        real, synthetic = pipeline_overhead(dataset, args.epochs * args.repeats)
        overhead = real / synthetic - 1
        print(f"(b) step time: real input {1e3 * real:.2f} ms, in-memory random tensors "
              f"{1e3 * synthetic:.2f} ms -> input-pipeline overhead {100 * overhead:+.1f} % "
              "(goal < 5 %)")  # fmt: skip

        # (c)
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            print("(c) GPU: skipped (no GPU visible)")
            gpu_text = "GPU skipped"
        else:
            off = project_epoch_seconds(dataset, Path(tmp) / "g0", args.epochs)
            fast = TRAINING | {"mixed_precision": "on", "xla": "on"}
            on = project_epoch_seconds(dataset, Path(tmp) / "g1", args.epochs, fast)
            print(f"(c) GPU ({len(gpus)}): epoch {off:.3f} s plain, {on:.3f} s with mixed "
                  f"precision and XLA -> {off / on:.2f}x")  # fmt: skip
            gpu_text = f"GPU mixed+XLA speed-up {off / on:.2f}x"
        # (d)
        with tf.device("/cpu:0"):
            paper = full_size_step_seconds(args.full_dim, args.full_steps, False)
            options = full_size_step_seconds(args.full_dim, args.full_steps, True)
            head = full_size_step_seconds(args.full_dim, args.full_steps, False, True)
        cost = options / paper
        print(f"(d) full-size step on CPU ({args.full_dim}x{args.full_dim}, filters 64..512, "
              f"batch 1): paper's network {paper:.2f} s, with the sphere options "
              f"{options:.2f} s -> {cost:.2f}x the paper's step; with the linear head (rank "
              f"{FULL_HEAD_RANK}) {head:.2f} s -> {head / paper:.2f}x")  # fmt: skip
    print(f"ratios: epoch speed-up {speedup:.2f}x (goal >= 1.5x); input-pipeline overhead "
          f"{100 * overhead:+.1f} % (goal < 5 %); {gpu_text}; sphere options full-size step "
          f"{cost:.2f}x the paper's (linear head {head / paper:.2f}x; baseline: the paper's "
          f"network)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
