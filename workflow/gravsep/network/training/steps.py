"""The model and its compiled steps: U-Net, optimiser, loss, ``tf.function`` train/eval steps.

:func:`configure_tensorflow` sets thread pools, op determinism and the seeds (first, before
TensorFlow's runtime starts). :class:`CompiledSteps` builds the U-Net
(:func:`gravsep.network.unet.build_unet`), Adam (inside a ``LossScaleOptimizer`` with mixed
precision, the model then computing in float16 with a float32 output layer), the loss
(:class:`gravsep.network.losses.SeparationLoss`) and the training and evaluation steps, XLA
compiled on request; with several devices (:func:`distribution_strategy`) the training step
runs under ``tf.distribute.MirroredStrategy``.
"""

import logging
import math
from contextlib import nullcontext

import numpy as np

log = logging.getLogger(__name__)


def configure_tensorflow(threads=None, seed=None):
    """Thread pools, op determinism and the global seeds.

    Thread settings only take effect before TensorFlow's runtime starts; later calls keep the
    existing pools (logged).

    Parameters
    ----------
    threads : int, optional
        Intra-op threads (inter-op: at most 2).
    seed : int, optional
        Seed of Python's, NumPy's and TensorFlow's global generators.
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


def build_model(dim, n_comp, options, *, mixed, strategy=None, in_channels=1,
                sampling="lat_lon", linear_head=None, ramp_channel=None):  # fmt: skip
    """The U-Net and its optimiser, seeded by ``options.seed``, under ``strategy``'s scope.

    Parameters
    ----------
    dim, n_comp : int
        Image size and number of components.
    options : gravsep.network.training.options.TrainingOptions
    mixed : bool
        Build under the ``mixed_float16`` policy (restored afterwards) and wrap Adam in a
        ``LossScaleOptimizer``.
    strategy : tf.distribute.Strategy, optional
    in_channels : int
        Input channels (:class:`gravsep.network.features.InputFeatures`).
    sampling : str
        The dataset's sampling (where periodic padding wraps).
    linear_head : list of numpy.ndarray or int, optional
        The linear head's weights (``network.linear_head``; :mod:`gravsep.network.linear_head`).
    ramp_channel : int, optional
        The input's ``year_ramp`` channel (a head fitted with the year ramp reads it).

    Returns
    -------
    model : keras.Model
    optimizer : keras.optimizers.Optimizer
        Built for the model's trainable variables.
    """
    import keras

    from gravsep.network.unet import build_unet

    training = options.training
    previous_policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    try:
        keras.utils.set_random_seed(options.seed)
        with strategy.scope() if strategy else nullcontext():
            model = build_unet(dim, n_comp, options.network, in_channels=in_channels,
                               sampling=sampling, linear_head=linear_head,
                               ramp_channel=ramp_channel)  # fmt: skip
            optimizer = keras.optimizers.Adam(
                learning_rate=float(training["learning_rate"]),
                beta_1=float(training["beta_1"]),
                beta_2=float(training["beta_2"]),
            )
            if mixed:
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(model.trainable_variables)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return model, optimizer


class CompiledSteps:
    """Model, optimiser, loss and the compiled steps of one training configuration.

    Parameters
    ----------
    options : gravsep.network.training.options.TrainingOptions
    dim, n_comp : int
    sampling : str
        The dataset's sampling (which image axis is time, for the loss; where periodic
        padding wraps).
    target_scales : numpy.ndarray
        ``(C,)`` [m]; network target = target / scale.
    input_scale : float
        [m].
    mixed, xla : bool
        Mixed precision; XLA compilation of the steps.
    strategy : tf.distribute.Strategy, optional
    features : gravsep.network.features.InputFeatures, optional
        The input channels; default the paper's one.
    lat : numpy.ndarray, optional
        The dataset's latitudes [degrees] (area-weighted loss).
    linear_head : list of numpy.ndarray or int, optional
        The linear head's weights (:func:`build_model`).

    Attributes
    ----------
    model, optimizer, loss_fn
    train_step : callable
        ``(x, y, w)`` batch in network units (``x`` ``(b, dim, dim, channels)``, ``w`` the
        loss weight per sample) -> loss summed over the batch's samples (one optimiser step,
        dropout on).
    eval_step : callable
        ``(x, y, w)`` batch in metres (position channels as they are) -> (loss summed over
        the samples, squared error per component summed over samples and pixels [m²]);
        dropout off.
    """

    def __init__(self, options, *, dim, n_comp, sampling, target_scales, input_scale, mixed,
                 xla, strategy=None, features=None, lat=None, linear_head=None):  # fmt: skip
        import tensorflow as tf

        from gravsep.network.features import InputFeatures
        from gravsep.network.losses import SeparationLoss

        features = features or InputFeatures()
        self.dim, self.n_comp, self.mixed, self.strategy = dim, n_comp, mixed, strategy
        self.replicas = strategy.num_replicas_in_sync if strategy else 1
        self.model, self.optimizer = build_model(
            dim, n_comp, options, mixed=mixed, strategy=strategy,
            in_channels=features.channels, sampling=sampling, linear_head=linear_head,
            ramp_channel=features.ramp_channel,
        )  # fmt: skip
        self.loss_fn = SeparationLoss.from_config(
            options.training, n_comp, sampling, target_scales=target_scales,
            input_scale=input_scale, lat=lat,
        )  # fmt: skip
        self.scales_tf = tf.constant(target_scales.astype(np.float32))
        self.in_scale_tf = tf.constant(features.channel_scales(input_scale))
        specs = [tf.TensorSpec([None, dim, dim, features.channels], tf.float32),
                 tf.TensorSpec([None, dim, dim, n_comp], tf.float32),
                 tf.TensorSpec([None], tf.float32)]  # fmt: skip
        if strategy is None:
            self.train_step = tf.function(self._replica_step, input_signature=specs,
                                          jit_compile=xla)  # fmt: skip
        else:
            self._replica_function = tf.function(self._replica_step, jit_compile=xla)
            self.train_step = tf.function(self._distributed_step)
        self.eval_step = tf.function(self._eval, input_signature=specs, jit_compile=xla)

    def _replica_step(self, x, y, w):
        import tensorflow as tf

        model, optimizer = self.model, self.optimizer
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = self.loss_fn(x, y, pred, w)
            scaled = loss / self.replicas
            if self.mixed:
                scaled = optimizer.scale_loss(scaled)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss * tf.cast(tf.shape(x)[0], loss.dtype)

    def _distributed_step(self, x, y, w):
        import tensorflow as tf

        per_replica = self.strategy.run(self._replica_function, args=(x, y, w))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    def _eval(self, x, y, w):
        import tensorflow as tf

        scales_tf = self.scales_tf
        x, y = x / self.in_scale_tf, y / scales_tf
        pred = tf.cast(self.model(x, training=False), tf.float32)
        terms = self.loss_fn.terms(x, y, pred, w)
        n = tf.cast(tf.shape(x)[0], tf.float32)
        sse = tf.reduce_sum(tf.square((pred - y) * scales_tf), axis=[0, 1, 2])
        return terms["total"] * n, sse

    def evaluate(self, source, batch_size):
        """Mean loss (network units, dropout off) and RMS per component [m] of a source.

        Parameters
        ----------
        source : gravsep.network.training.data.SampleSource
        batch_size : int
            Samples per evaluation batch.

        Returns
        -------
        loss : float
            NaN for an empty source.
        rms : numpy.ndarray
            ``(C,)`` [m], over all samples and pixels; NaN for an empty source.
        """
        if source.n == 0:
            return math.nan, np.full(self.n_comp, np.nan)
        loss_sum, sse = 0.0, np.zeros(self.n_comp)
        for x, y, w in source.batches(batch_size):
            lsum, s = self.eval_step(x, y, w)
            loss_sum += float(lsum)
            sse += s.numpy()
        return loss_sum / source.n, np.sqrt(sse / (source.n * self.dim * self.dim))

    def sample_loss(self, source, i):
        """Loss of sample ``i`` of a source (dropout off)."""
        return float(self.eval_step(*source.sample(i))[0])

    def batch_size_of(self, xb):
        """Samples in a (possibly distributed) batch."""
        if self.strategy is None:
            return int(xb.shape[0])
        return int(sum(int(t.shape[0]) for t in self.strategy.experimental_local_results(xb)))
