"""The input pipeline: where the samples live, their scales, and the epochs as ``tf.data``.

:class:`SampleSource` holds the samples of some years of a dataset file (read through
:class:`gravsep.formats.samples.Samples`): in memory when all splits fit under
:func:`default_in_memory_limit`, otherwise streamed from the file by chunks of consecutive
samples (one read per chunk, never per sample). :func:`split_sources` makes the three sources
of a run. :func:`compute_scales` gives the scales from metres to network units.
:class:`EpochPipeline` turns the training source into shuffled, augmented, scaled, batched and
prefetched batches; the order and the augmentation draws are functions of (seed, epoch,
sample), so a resumed run sees exactly what an uninterrupted one does.
"""

import functools
import logging
import math
import os

import numpy as np

from gravsep.config import allowed_values
from gravsep.formats.samples import SPLITS, Samples, opened

log = logging.getLogger(__name__)


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


def compute_scales(x_train, y_train, mode):
    """Scales that map physical units (metres) to network units.

    Parameters
    ----------
    x_train : numpy.ndarray
        Training inputs ``(N, rows, cols)`` [m].
    y_train : numpy.ndarray
        Training targets ``(N, rows, cols, C)`` [m].
    mode : {"max_abs", "none"}
        ``max_abs``: each target channel's max ``|value|`` over the training years, and the
        input's max ``|value|``; ``none``: all 1 (the reference's raw metres).

    Returns
    -------
    target_scales : numpy.ndarray
        ``(C,)`` float64 [m]; network target = target / scale.
    input_scale : float
        [m]; network input = input / input_scale.
    """
    n_comp = y_train.shape[-1]
    if mode == "none":
        return np.ones(n_comp), 1.0
    if mode != "max_abs":
        allowed = allowed_values("training", "target_scaling")
        raise ValueError(f"unknown target_scaling {mode!r}; one of {allowed}")
    scales = np.abs(y_train).max(axis=(0, 1, 2)).astype(np.float64)
    scales = np.where(scales > 0, scales, 1.0)
    input_scale = float(np.abs(x_train).max()) if x_train.size else 1.0
    return scales, (input_scale if input_scale > 0 else 1.0)


def epoch_seed(seed, epoch):
    """Seed of the numpy draws of one epoch (streamed shuffle, random validation sample)."""
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0])


def sample_seed_base(seed, epoch):
    """First half of the augmentation seed ``(base, sample index)`` of an epoch's samples."""
    return int(seed) * 2**20 + int(epoch)


class SampleSource:
    """The samples of some years of a dataset file: in memory, or read by chunks.

    In memory, the years are read once into two arrays. Streaming, nothing is held: every pass
    opens the file once and reads ``chunk`` consecutive samples of a year at a time (never one
    sample per read).

    Parameters
    ----------
    dataset : path-like or gravsep.formats.samples.Samples
        Dataset file, or the open file.
    years : list of int
    in_memory : bool
    chunk : int
        Samples per read when streaming.

    Attributes
    ----------
    n : int
        Number of samples.
    dim, n_comp : int
        Image size and number of components.
    x, y : numpy.ndarray or None
        In memory: inputs ``(n, dim, dim)`` and targets ``(n, dim, dim, C)``, float32 [m].
    """

    def __init__(self, dataset, years, in_memory, chunk=64):
        self.years = [int(y) for y in years]
        self.in_memory = bool(in_memory)
        self.chunk = max(1, int(chunk))
        with opened(dataset) as samples:
            self.path = samples.path
            self.dim, self.n_comp = samples.dim, len(samples.components)
            self.counts = [samples.count(y) for y in self.years]
            self.x = self.y = None
            if self.in_memory:
                self.x, self.y = self._read_all(samples)
        self.n = int(sum(self.counts))
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)

    def _read_all(self, samples):
        if not self.years:  # a split without years (e.g. no test years): no samples
            d, c = self.dim, self.n_comp
            return np.zeros((0, d, d), np.float32), np.zeros((0, d, d, c), np.float32)
        xs, ys = zip(*(samples.read(y) for y in self.years), strict=True)
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
        with Samples(self.path) as samples:
            for g0, k, a, b in parts:
                x, y = samples.read(self.years[k], a, b)
                yield g0, x, y

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
        with Samples(self.path) as samples:
            return samples.read(self.years[k], a, a + 1)

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


def split_sources(samples, in_memory_limit=None, chunk=64):
    """The :class:`SampleSource` of every split, all in memory or all streamed.

    Parameters
    ----------
    samples : gravsep.formats.samples.Samples
        The open dataset.
    in_memory_limit : int, optional
        Bytes of samples (all splits, float32) kept in memory; above it, samples are streamed
        from the file. Default :func:`default_in_memory_limit`.
    chunk : int
        Samples per read when streaming (at most 64 MiB per read).

    Returns
    -------
    sources : dict
        ``{split: SampleSource}`` for ``train``, ``validation``, ``test``.
    in_memory : bool
    """
    years = {s: samples.split_years(s) for s in SPLITS}
    sample_bytes = samples.dim * samples.dim * (1 + len(samples.components)) * 4
    nbytes = sum(samples.count(y) for s in SPLITS for y in years[s]) * sample_bytes
    limit = default_in_memory_limit() if in_memory_limit is None else int(in_memory_limit)
    in_memory = nbytes <= limit
    chunk = max(1, min(int(chunk), max(1, 2**26 // sample_bytes)))
    sources = {s: SampleSource(samples, years[s], in_memory, chunk) for s in SPLITS}
    log.info(
        "samples %s (%.3g GiB): %s", {s: sources[s].n for s in SPLITS}, nbytes / 2**30,
        "in memory" if in_memory else f"streamed from the file by chunks of {chunk}",
    )  # fmt: skip
    return sources, in_memory


class EpochPipeline:
    """Shuffled, augmented, scaled, batched and prefetched training batches, as ``tf.data``.

    One pipeline serves a range of epochs (traced once, prefetching across epoch boundaries);
    each epoch gives :attr:`steps_per_epoch` batches. In memory, the order is a permutation of
    all samples drawn in the graph; streamed, a permutation of the chunks and of the samples
    within each chunk. Augmentation draws are seeded by ``(seed * 2**20 + epoch, sample)``.

    Parameters
    ----------
    source : SampleSource
        The training samples.
    seed, batch_size : int
    specs : list of dict
        Augmentation settings per component (:func:`gravsep.network.augment.specs_for`).
    target_scales : numpy.ndarray
        ``(C,)`` [m] (:func:`compute_scales`).
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
        noise is such a blend of two windows' draws, so both have the same variance.
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
        self.scales_tf = tf.constant(np.asarray(target_scales).astype(np.float32))
        self.in_scale_tf = tf.constant(np.float32(input_scale))
        self.strategy = strategy
        self._tensors = None
        self.noise_bank = None if noise_bank is None else np.asarray(noise_bank, np.float32)
        n = source.n
        self.noise_frac = np.zeros(n, np.float32) if noise_frac is None else np.asarray(
            noise_frac, np.float32)  # fmt: skip
        self.roll_noise = bool(roll_noise)
        self._bank = self._frac = None

    @property
    def steps_per_epoch(self):
        return math.ceil(self.source.n / self.batch_size)

    def epochs(self, first, last):
        """The batches of epochs ``first`` .. ``last - 1`` (0-based), one after the other."""
        import tensorflow as tf

        if self.source.in_memory:
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
        """One epoch's batches ``(input, target)`` in network units (``epoch``: int64 tensor)."""
        import tensorflow as tf

        ds = self.epoch_samples(epoch)
        ds = ds.map(self.prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.batch(self.batch_size)

    def epoch_samples(self, epoch):
        """One epoch's samples ``(input, target, augmentation seed)`` in shuffled order [m]."""
        if self.source.in_memory:
            return self._memory_samples(epoch)
        return self._streamed_samples(epoch)

    def prepare(self, x, y, seed):
        """Graph op of the pipeline: augment (seeded by ``seed``), re-sum, add noise, scale."""
        import tensorflow as tf

        from gravsep.network import augment

        if self.augmenting:
            x, y = augment.augment_pair(y, self.specs, seed)
        if self.noise_bank is not None:
            x = tf.reduce_sum(y, axis=-1) + self._noise_draw(seed)
        return x / self.in_scale_tf, y / self.scales_tf

    def _noise_draw(self, seed):
        """The sample's noise: a blend of two bank realisations, picked (and rolled) by its
        seed, with its time-resampling weight."""
        import tensorflow as tf

        k, cols = self.noise_bank.shape[0], self.noise_bank.shape[-1]
        key = tf.stack([seed[0], seed[1] + (1 << 40)])  # apart from the augmentation draws
        draw = tf.random.stateless_uniform([4], seed=key)
        picks = tf.gather(self._bank, tf.cast(draw[:2] * k, tf.int64) % k)  # (2, rows, cols)
        if self.roll_noise:
            shifts = tf.cast(draw[2:] * cols, tf.int32) % cols
            picks = tf.stack([tf.roll(picks[j], shifts[j], axis=1) for j in range(2)])
        f = tf.gather(self._frac, seed[1] % self.source.n)
        return (1.0 - f) * picks[0] + f * picks[1]

    # ---- in memory: a permutation of all samples, drawn in the graph

    def _memory_samples(self, epoch):
        import tensorflow as tf

        key = tf.stack([tf.constant(self.seed, tf.int64), epoch])
        order = tf.argsort(tf.random.stateless_uniform([self.source.n], seed=key))
        base = tf.constant(self.seed * 2**20, tf.int64) + epoch
        gather = functools.partial(self._gather, *self._memory_tensors(), base)
        ds = tf.data.Dataset.from_tensor_slices(order)
        return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def _memory_tensors(self):
        import tensorflow as tf

        if self._tensors is None:
            with tf.device("/cpu:0"):
                self._tensors = (tf.constant(self.source.x), tf.constant(self.source.y))
        return self._tensors

    @staticmethod
    def _gather(x_all, y_all, base, i):
        import tensorflow as tf

        i = tf.cast(i, tf.int64)
        return tf.gather(x_all, i), tf.gather(y_all, i), tf.stack([base, i])

    # ---- streamed: a permutation of the chunks and of the samples within each chunk

    def _streamed_samples(self, epoch):
        import tensorflow as tf

        dim, n_comp = self.source.dim, self.source.n_comp
        return tf.data.Dataset.from_generator(
            self._streamed_chunks,
            args=(epoch,),
            output_signature=(
                tf.TensorSpec([None, dim, dim], tf.float32),
                tf.TensorSpec([None, dim, dim, n_comp], tf.float32),
                tf.TensorSpec([None, 2], tf.int64),
            ),
        ).unbatch()

    def _streamed_chunks(self, epoch):
        epoch = int(epoch)
        parts = self.source.chunk_list()
        rng = np.random.default_rng(epoch_seed(self.seed, epoch))
        chunk_order = rng.permutation(len(parts))
        inner = [rng.permutation(parts[i][3] - parts[i][2]) for i in chunk_order]
        base = sample_seed_base(self.seed, epoch)
        for (g0, x, y), perm in zip(self.source.chunks(chunk_order), inner, strict=True):
            idx = (g0 + perm).astype(np.int64)
            seeds = np.stack([np.full_like(idx, base), idx], axis=1)
            yield x[perm], y[perm], seeds
