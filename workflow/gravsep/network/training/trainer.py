"""The trainer: one training configuration on one dataset, assembled from the pieces.

:class:`Trainer` checks the options against the dataset (:mod:`.options`), places the samples
(:mod:`.data`), computes the scales, picks precision, compilation and devices, and builds the
model with its compiled steps (:mod:`.steps`) and the training pipeline. :func:`train` drives
it; benchmarks and tests use its parts.
"""

import logging
from pathlib import Path

import numpy as np

from gravsep.dataset.sampling import time_weights
from gravsep.formats.samples import SPLITS, Samples
from gravsep.harmonics.grids import is_global
from gravsep.network.training.data import split_sources
from gravsep.network.training.options import TrainingOptions, check_dataset, resolve_switch
from gravsep.network.training.pipeline import EpochPipeline
from gravsep.network.training.steps import CompiledSteps, distribution_strategy

log = logging.getLogger(__name__)


class Trainer:
    """Model, optimiser, input pipeline and compiled steps of one training configuration.

    Build it after :func:`gravsep.network.training.steps.configure_tensorflow`.

    Parameters
    ----------
    dataset_h5 : path-like
        Dataset file (:mod:`gravsep.formats.samples`).
    network, training : dict
        The model's sections (:class:`gravsep.network.training.options.TrainingOptions`).
    in_memory_limit : int, optional
        Bytes of samples (all splits) kept in memory; above it, samples are streamed from the
        file by chunks (:func:`gravsep.network.training.data.split_sources`).
    devices : list of str, optional
        Devices of a MirroredStrategy; default every visible GPU if there are several.
    eval_batch_size : int, optional
        Samples per evaluation batch; default about 2**20 pixels, at least ``batch_size``.
    chunk : int
        Samples per read when streaming.

    Attributes
    ----------
    options : TrainingOptions
    components, sampling, dim, n_comp, split_years
        Of the dataset.
    sources : dict
        ``{split: SampleSource}``; ``in_memory`` whether they hold the samples.
    target_scales, input_scale
        [m] (:func:`gravsep.network.training.data.compute_scales`).
    mixed, xla : bool
        Mixed precision and XLA, resolved; ``replicas`` the number of devices.
    steps : CompiledSteps
        With ``model``, ``optimizer``, ``train_step``, ``eval_step`` also reached here.
    pipeline : EpochPipeline
    """

    def __init__(self, dataset_h5, network, training, *, in_memory_limit=None, devices=None,
                 eval_batch_size=None, chunk=64):  # fmt: skip
        self.dataset_h5 = Path(dataset_h5)
        self.options = options = TrainingOptions.from_config(network, training)
        self.features = features = options.features
        with Samples(dataset_h5) as samples:
            specs = check_dataset(options, samples)
            self.components, self.sampling = samples.components, samples.sampling
            self.dim, self.n_comp = samples.dim, len(samples.components)
            self.lat = samples.lat
            self.split_years = {s: samples.split_years(s) for s in SPLITS}
            self.sources, self.in_memory = split_sources(
                samples, in_memory_limit, chunk, features, self.image_weights(options)
            )
            noise = samples.noise_bank() if samples.noise().get("augment") else None
            noise_frac = _resampling_weights(samples, self.split_years["train"])
            roll_noise = is_global(samples.lat, samples.lon)
        self.target_scales, self.input_scale = self.sources["train"].scales(
            options.target_scaling, self.n_comp
        )
        self.batch_size = options.batch_size
        if eval_batch_size is None:
            eval_batch_size = max(self.batch_size, min(64, max(1, 2**20 // self.dim**2)))
        self.eval_batch_size = int(eval_batch_size)
        self.mixed = resolve_switch(options.training["mixed_precision"], "mixed_precision")
        self.xla = resolve_switch(options.training["xla"], "xla")
        strategy = distribution_strategy(devices)
        self.replicas = strategy.num_replicas_in_sync if strategy else 1
        log.info(
            "mixed precision %s, XLA %s, %d replica(s)",
            "on" if self.mixed else "off", "on" if self.xla else "off", self.replicas,
        )  # fmt: skip
        head = None
        if options.network["linear_head"]:
            from gravsep.evaluation.regression import regression_statistics
            from gravsep.network.linear_head import head_weights

            stats = regression_statistics(self.dataset_h5, ramp=features.position)
            log.info("linear head: ridge regression of %d training windows%s, alpha per "
                     "component %s", len(stats["reg_features"]),
                     " with the year ramp" if features.position else "",
                     stats["reg_alpha"].tolist())  # fmt: skip
            head = head_weights(stats, self.input_scale, self.target_scales)
        self.steps = CompiledSteps(
            options, dim=self.dim, n_comp=self.n_comp, sampling=self.sampling,
            target_scales=self.target_scales, input_scale=self.input_scale, mixed=self.mixed,
            xla=self.xla, strategy=strategy, features=features, lat=self.lat, linear_head=head,
        )  # fmt: skip
        self.model, self.optimizer = self.steps.model, self.steps.optimizer
        self.train_step, self.eval_step = self.steps.train_step, self.steps.eval_step
        self.pipeline = EpochPipeline(
            self.sources["train"], seed=options.seed, batch_size=self.batch_size, specs=specs,
            target_scales=self.target_scales, input_scale=self.input_scale, strategy=strategy,
            noise_bank=noise, noise_frac=noise_frac, roll_noise=roll_noise,
        )  # fmt: skip
        if noise is not None:
            log.info("noise augmentation: a draw from a bank of %d realisations per sample "
                     "and epoch", len(noise))  # fmt: skip

    def image_weights(self, options):
        """Loss weight of each sample index within a year: the area weights of the ``t_lon``
        images (one latitude each) with ``area_weighted_loss``, else None (all 1)."""
        from gravsep.network.losses import area_weights

        if options.training["area_weighted_loss"] and self.sampling == "t_lon":
            return area_weights(self.lat)
        return None

    @property
    def steps_per_epoch(self):
        return self.pipeline.steps_per_epoch

    def epochs_dataset(self, first, last):
        """Training batches of epochs ``first`` .. ``last - 1`` (:meth:`EpochPipeline.epochs`)."""
        return self.pipeline.epochs(first, last)

    def evaluate(self, split):
        """Mean loss (network units, dropout off) and RMS per component [m] of a split."""
        return self.steps.evaluate(self.sources[split], self.eval_batch_size)

    def sample_loss(self, split, i):
        """Loss of sample ``i`` of a split (dropout off)."""
        return self.steps.sample_loss(self.sources[split], i)

    def batch_size_of(self, xb):
        """Samples in a (possibly distributed) batch."""
        return self.steps.batch_size_of(xb)

    def describe(self, model_name):
        """Log the model's size, the dataset's shape and the scales."""
        log.info(
            "model %s: %d parameters; %d components %s, dim %d, %s; scales %s, input %.4g; "
            "input channels %s; padding %s",
            model_name, self.model.count_params(), self.n_comp, self.components, self.dim,
            self.sampling, self.target_scales, self.input_scale, self.features.names,
            self.options.network["padding"],
        )  # fmt: skip


def _resampling_weights(samples, years):
    """Per training sample (file order), the weight of the later window in its time
    resampling (lat_lon samples: one per time step)."""
    return np.concatenate(
        [time_weights(samples.numt(y), samples.count(y))[1] for y in years] or [np.zeros(0)]
    ).astype(np.float32)
