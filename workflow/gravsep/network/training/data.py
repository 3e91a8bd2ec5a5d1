"""The input pipeline: where the samples live, their scales, and the epochs as ``tf.data``.

:class:`SampleSource` holds the samples of some years of a dataset file (read through
:class:`gravsep.formats.samples.Samples`): in memory when all splits fit under
:func:`default_in_memory_limit`, otherwise streamed from the file by chunks of consecutive
samples (one read per chunk, never per sample). A source also gives each sample its context
windows and position channels (:mod:`gravsep.network.features`) and its loss weight.
:func:`split_sources` makes the three sources of a run. :func:`compute_scales` gives the scales
from metres to network units. The training epochs as ``tf.data`` are
:class:`gravsep.network.training.pipeline.EpochPipeline`.
"""

import logging
import os

import numpy as np

from gravsep.config import allowed_values
from gravsep.formats.samples import SPLITS, Samples, opened
from gravsep.network.features import (
    POSITION_CHANNELS,
    InputFeatures,
    network_input,
)

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
    sample per read), with what the context windows reach on each side inside the year when
    the input holds neighbouring windows.

    Parameters
    ----------
    dataset : path-like or gravsep.formats.samples.Samples
        Dataset file, or the open file.
    years : list of int
    in_memory : bool
    chunk : int
        Samples per read when streaming.
    features : gravsep.network.features.InputFeatures, optional
        What the network's input holds; default the paper's single channel.
    image_weights : numpy.ndarray, optional
        ``(S,)`` loss weight of each sample index within a year (the area weights of the
        ``t_lon`` images); default 1.

    Attributes
    ----------
    n : int
        Number of samples.
    dim, n_comp : int
        Image size and number of components.
    x, y : numpy.ndarray or None
        In memory: inputs ``(n, dim, dim)`` and targets ``(n, dim, dim, C)``, float32 [m].
    neighbours : numpy.ndarray
        ``(n, 1 + 2K)`` global index of every context window, clamped within each year
        (:func:`gravsep.network.features.neighbour_index`).
    pos_rows, pos_cols : numpy.ndarray or None
        ``(n, P, dim)`` parts of the position channels
        (:func:`gravsep.network.features.position_parts`).
    weights : numpy.ndarray
        ``(n,)`` float32 loss weight per sample.
    """

    def __init__(self, dataset, years, in_memory, chunk=64, features=None, image_weights=None):
        self.years = [int(y) for y in years]
        self.in_memory = bool(in_memory)
        self.chunk = max(1, int(chunk))
        self.features = features = features or InputFeatures()
        with opened(dataset) as samples:
            self.path = samples.path
            self.dim, self.n_comp = samples.dim, len(samples.components)
            self.counts = [samples.count(y) for y in self.years]
            self.x = self.y = None
            if self.in_memory:
                self.x, self.y = self._read_all(samples)
            parts = [features.year_positions(samples, y) for y in self.years]
        self.n = int(sum(self.counts))
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.neighbours = np.concatenate(
            [np.zeros((0, features.windows), np.int64)]
            + [features.neighbours(c) + o for c, o in zip(self.counts, self.offsets, strict=False)]
        )
        within = np.concatenate([np.zeros(0, np.int64)] + [np.arange(c) for c in self.counts])
        self.pos_rows = self.pos_cols = None
        if features.position:
            empty = np.zeros((0, len(POSITION_CHANNELS), self.dim), np.float32)
            self.pos_rows = np.concatenate([empty] + [p[0] for p in parts])
            self.pos_cols = np.concatenate([empty] + [p[1] for p in parts])
        w = np.ones(self.n) if image_weights is None else np.asarray(image_weights)[within]
        self.weights = w.astype(np.float32)

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

    def chunks(self, order=None, target_context=False):
        """Yield ``(first global index, inputs, targets)`` per chunk (file order or ``order``).

        Inputs are the context windows ``(m, 1 + 2K, dim, dim)``, targets ``(m, 1 + 2K, dim,
        dim, C)`` with ``target_context`` (what augmentation needs to re-sum every window),
        otherwise the sample's own ``(m, 1, dim, dim, C)``; float32 [m].
        """
        parts = self.chunk_list()
        if order is not None:
            parts = [parts[i] for i in order]
        if self.in_memory:
            for g0, _k, a, b in parts:
                nbr = self.neighbours[g0 : g0 + b - a]
                y = self.y[nbr] if target_context else self.y[g0 : g0 + b - a, None]
                yield g0, self.x[nbr], y
            return
        k = self.features.reach
        with Samples(self.path) as samples:
            for g0, i, a, b in parts:
                lo, hi = max(0, a - k), min(self.counts[i], b + k)
                x, y = samples.read(self.years[i], lo, hi)
                local = self.neighbours[g0 : g0 + b - a] - int(self.offsets[i]) - lo
                yield g0, x[local], (y[local] if target_context else y[a - lo : b - lo, None])

    def network_input(self, g0, x_ctx):
        """The network's input ``(m, dim, dim, channels)`` [m; positions dimensionless] of
        samples ``g0 .. g0 + m - 1`` from their context windows ``(m, 1 + 2K, dim, dim)``
        (:func:`gravsep.network.features.network_input`)."""
        if self.pos_rows is None:
            return network_input(x_ctx)
        sl = slice(g0, g0 + len(x_ctx))
        return network_input(x_ctx, self.pos_rows[sl], self.pos_cols[sl])

    def batches(self, size):
        """Yield ``(input, target, weight)`` batches of at most ``size`` samples in file order:
        the network's input (:meth:`network_input`), targets ``(b, dim, dim, C)`` [m] and loss
        weights ``(b,)``."""
        for g0, x, y in self.chunks():
            for i in range(0, len(x), size):
                g = g0 + i
                xb = self.network_input(g, x[i : i + size])
                yield xb, y[i : i + size, 0], self.weights[g : g + len(xb)]

    def sample(self, i):
        """One sample ``(input (1, r, c, channels), target (1, r, c, C), weight (1,))``."""
        i = int(i)
        nbr = self.neighbours[i : i + 1]
        if self.in_memory:
            x, y = self.x[nbr], self.y[i : i + 1]
        else:
            k = int(np.searchsorted(self.offsets, i, side="right") - 1)
            local = nbr - int(self.offsets[k])
            lo = int(local.min())
            with Samples(self.path) as samples:
                x, y = samples.read(self.years[k], lo, int(local.max()) + 1)
            x, y = x[local - lo], y[i - int(self.offsets[k]) - lo][None]
        return self.network_input(i, x), y, self.weights[i : i + 1]

    def scales(self, mode, n_comp):
        """:func:`compute_scales` over all samples, chunk by chunk."""
        if mode == "none" or self.n == 0:
            return compute_scales(np.zeros((0, 1, 1)), np.zeros((0, 1, 1, n_comp)), mode)
        t_max, x_max = np.zeros(n_comp), 0.0
        for _g0, x, y in self.chunks():
            t_max = np.maximum(t_max, np.abs(y[:, 0]).max(axis=(0, 1, 2)))
            x_max = max(x_max, float(np.abs(x[:, 0]).max()))
        # compute_scales on the maxima themselves gives the same scales.
        return compute_scales(np.array([[[x_max]]]), t_max.reshape(1, 1, 1, n_comp), mode)


def split_sources(samples, in_memory_limit=None, chunk=64, features=None, image_weights=None):
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
    features, image_weights
        As :class:`SampleSource` takes them.

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
    sources = {s: SampleSource(samples, years[s], in_memory, chunk, features, image_weights)
               for s in SPLITS}  # fmt: skip
    log.info(
        "samples %s (%.3g GiB): %s", {s: sources[s].n for s in SPLITS}, nbytes / 2**30,
        "in memory" if in_memory else f"streamed from the file by chunks of {chunk}",
    )  # fmt: skip
    return sources, in_memory
