"""The training epochs as ``tf.data``: shuffled, augmented, scaled, batched and prefetched.

:class:`EpochPipeline` turns the training :class:`~gravsep.network.training.data.SampleSource`
into batches ``(input, target, weight)`` in network units: the input ``(b, dim, dim, channels)``
(the summed field, its context windows, the position channels; see
:mod:`gravsep.network.features`), the target ``(b, dim, dim, C)`` and the per-sample loss
weight ``(b,)``. The order and the augmentation draws are functions of (seed, epoch, sample),
so a resumed run sees exactly what an uninterrupted one does.

Augmentation with context windows: every window of a sample is augmented with the same draws
(the same seed), its input re-summed from its augmented targets, so the neighbours stay
consistent with the sample (the same contrast factor, flip, crop, sign and offset); the
position channels are not augmented.
"""

import functools
import math

import numpy as np

from gravsep.network.training.data import epoch_seed, sample_seed_base


class EpochPipeline:
    """Shuffled, augmented, scaled, batched and prefetched training batches, as ``tf.data``.

    One pipeline serves a range of epochs (traced once, prefetching across epoch boundaries);
    each epoch gives :attr:`steps_per_epoch` batches. In memory, the order is a permutation of
    all samples drawn in the graph; streamed, a permutation of the chunks and of the samples
    within each chunk. Augmentation draws are seeded by ``(seed * 2**20 + epoch, sample)``.

    Parameters
    ----------
    source : gravsep.network.training.data.SampleSource
        The training samples.
    seed, batch_size : int
    specs : list of dict
        Augmentation settings per component (:func:`gravsep.network.augment.specs_for`).
    target_scales : numpy.ndarray
        ``(C,)`` [m] (:func:`gravsep.network.training.data.compute_scales`).
    input_scale : float
        [m].
    strategy : tf.distribute.Strategy, optional
        The batches are distributed over its replicas.
    noise_bank : numpy.ndarray, optional
        ``(K, rows, cols)`` noise realisations [m] of single windows (lat_lon samples): each
        training sample's input becomes the sum of its targets plus ``(1 - f) A + f B``, two
        realisations drawn (and, on a global grid, rolled by a random number of longitude
        columns) from the sample's seed, so every epoch sees fresh noise. ``f`` is the sample's
        weight in the time resampling of the windows (``noise_frac``): the stored samples'
        noise is such a blend of two windows' draws, so both have the same variance. With
        context windows every window is re-summed from its targets and gets its own draw
        (with the sample's ``f``).
    noise_frac : numpy.ndarray, optional
        ``(n,)`` that weight per training sample (global index); default 0.
    roll_noise : bool
        Roll the drawn realisations along longitude (only where the grid is global).
    """

    def __init__(self, source, *, seed, batch_size, specs, target_scales, input_scale,
                 strategy=None, noise_bank=None, noise_frac=None, roll_noise=True):  # fmt: skip
        import tensorflow as tf

        from gravsep.network import augment

        self.source = source
        self.seed, self.batch_size = int(seed), int(batch_size)
        self.specs = specs
        self.augmenting = augment.is_active(specs)
        self.windows = source.features.windows
        self.noise_bank = None if noise_bank is None else np.asarray(noise_bank, np.float32)
        self.noise_frac = np.zeros(source.n, np.float32) if noise_frac is None else np.asarray(
            noise_frac, np.float32)  # fmt: skip
        self.roll_noise = bool(roll_noise)
        self._bank = self._frac = None
        # the neighbours' targets are only needed to re-sum augmented or re-noised neighbours
        resummed = self.augmenting or self.noise_bank is not None
        self.target_context = resummed and self.windows > 1
        self.scales_tf = tf.constant(np.asarray(target_scales).astype(np.float32))
        self.in_scale_tf = tf.constant(np.float32(input_scale))
        self.strategy = strategy
        self._tensors = None

    @property
    def steps_per_epoch(self):
        return math.ceil(self.source.n / self.batch_size)

    def epochs(self, first, last):
        """The batches of epochs ``first`` .. ``last - 1`` (0-based), one after the other."""
        import tensorflow as tf

        self._memory_tensors()  # eagerly, before tracing: captured, not graph constants
        if self.noise_bank is not None and self._bank is None:
            with tf.device("/cpu:0"):
                self._bank = tf.constant(self.noise_bank)
                self._frac = tf.constant(self.noise_frac)
        ds = tf.data.Dataset.range(first, last).flat_map(self.epoch_batches)
        ds = ds.prefetch(tf.data.AUTOTUNE)
        if self.strategy is not None:
            ds = self.strategy.experimental_distribute_dataset(ds)
        return ds

    def epoch_batches(self, epoch):
        """One epoch's batches ``(input, target, weight)`` in network units (``epoch``: int64)."""
        import tensorflow as tf

        ds = self.epoch_samples(epoch)
        ds = ds.map(self.prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.batch(self.batch_size)

    def epoch_samples(self, epoch):
        """One epoch's samples ``(windows, targets, augmentation seed, index)`` shuffled [m].

        ``windows`` ``(1 + 2K, dim, dim)``, ``targets`` ``(1 + 2K or 1, dim, dim, C)`` (see
        :meth:`gravsep.network.training.data.SampleSource.chunks`), ``index`` the global
        sample index (position channels, loss weight).
        """
        if self.source.in_memory:
            return self._memory_samples(epoch)
        return self._streamed_samples(epoch)

    def prepare(self, x, y, seed, i):
        """Graph op of the pipeline: augment (seeded by ``seed``), re-sum, add noise, scale,
        add positions."""
        import tensorflow as tf

        from gravsep.network import augment

        if self.augmenting:
            pairs = [augment.augment_pair(y[w], self.specs, seed) for w in range(y.shape[0])]
            y = tf.stack([p[1] for p in pairs])
            if self.target_context:
                x = tf.stack([p[0] for p in pairs])
            else:
                x = pairs[0][0][None]
        target = y[0]
        if self.noise_bank is not None:
            sums = [tf.reduce_sum(y[w], axis=-1) for w in range(y.shape[0])]
            x = tf.stack([s + self._noise_draw(seed, w) for w, s in enumerate(sums)])
        features = tf.transpose(x, [1, 2, 0]) / self.in_scale_tf
        pos_rows, pos_cols, weights = self._memory_tensors()[2:]
        if pos_rows is not None:
            rows, cols = tf.gather(pos_rows, i), tf.gather(pos_cols, i)  # (P, dim) each
            pos = tf.transpose(rows[:, :, None] + cols[:, None, :], [1, 2, 0])
            features = tf.concat([features, pos], axis=-1)
        return features, target / self.scales_tf, tf.gather(weights, i)

    def _noise_draw(self, seed, window=0):
        """The sample's noise: a blend of two bank realisations, picked (and rolled) by its
        seed (and the context window's position), with its time-resampling weight."""
        import tensorflow as tf

        k, cols = self.noise_bank.shape[0], self.noise_bank.shape[-1]
        key = tf.stack([seed[0] + window * (1 << 50), seed[1] + (1 << 40)])
        draw = tf.random.stateless_uniform([4], seed=key)
        picks = tf.gather(self._bank, tf.cast(draw[:2] * k, tf.int64) % k)  # (2, rows, cols)
        if self.roll_noise:
            shifts = tf.cast(draw[2:] * cols, tf.int32) % cols
            picks = tf.stack([tf.roll(picks[j], shifts[j], axis=1) for j in range(2)])
        f = tf.gather(self._frac, seed[1] % self.source.n)
        return (1.0 - f) * picks[0] + f * picks[1]

    # ---- tensors held by the graph: samples (in memory), neighbours, positions, weights

    def _memory_tensors(self):
        import tensorflow as tf

        if self._tensors is None:
            src = self.source
            arrays = (src.x, src.y, src.pos_rows, src.pos_cols, src.weights, src.neighbours)
            with tf.device("/cpu:0"):
                self._tensors = tuple(None if a is None else tf.constant(a) for a in arrays)
        return self._tensors[:5]

    # ---- in memory: a permutation of all samples, drawn in the graph

    def _memory_samples(self, epoch):
        import tensorflow as tf

        key = tf.stack([tf.constant(self.seed, tf.int64), epoch])
        order = tf.argsort(tf.random.stateless_uniform([self.source.n], seed=key))
        base = tf.constant(self.seed * 2**20, tf.int64) + epoch
        x_all, y_all = self._memory_tensors()[:2]
        gather = functools.partial(self._gather, x_all, y_all, self._tensors[5], base,
                                   self.target_context)  # fmt: skip
        ds = tf.data.Dataset.from_tensor_slices(order)
        return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    @staticmethod
    def _gather(x_all, y_all, neighbours, base, target_context, i):
        import tensorflow as tf

        i = tf.cast(i, tf.int64)
        nbr = tf.gather(neighbours, i)
        y = tf.gather(y_all, nbr) if target_context else tf.gather(y_all, i)[None]
        return tf.gather(x_all, nbr), y, tf.stack([base, i]), i

    # ---- streamed: a permutation of the chunks and of the samples within each chunk

    def _streamed_samples(self, epoch):
        import tensorflow as tf

        dim, n_comp, w = self.source.dim, self.source.n_comp, self.windows
        wy = w if self.target_context else 1
        return tf.data.Dataset.from_generator(
            self._streamed_chunks,
            args=(epoch,),
            output_signature=(
                tf.TensorSpec([None, w, dim, dim], tf.float32),
                tf.TensorSpec([None, wy, dim, dim, n_comp], tf.float32),
                tf.TensorSpec([None, 2], tf.int64),
                tf.TensorSpec([None], tf.int64),
            ),
        ).unbatch()

    def _streamed_chunks(self, epoch):
        epoch = int(epoch)
        parts = self.source.chunk_list()
        rng = np.random.default_rng(epoch_seed(self.seed, epoch))
        chunk_order = rng.permutation(len(parts))
        inner = [rng.permutation(parts[i][3] - parts[i][2]) for i in chunk_order]
        base = sample_seed_base(self.seed, epoch)
        chunks = self.source.chunks(chunk_order, self.target_context)
        for (g0, x, y), perm in zip(chunks, inner, strict=True):
            idx = (g0 + perm).astype(np.int64)
            seeds = np.stack([np.full_like(idx, base), idx], axis=1)
            yield x[perm], y[perm], seeds, idx
