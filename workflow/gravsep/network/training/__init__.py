"""Training of the multi-channel U-Net (method note §4), with resume and atomic outputs.

Map of the pieces, each one concept (TensorFlow is imported inside functions only, so
importing this package stays cheap):

:mod:`.options`
    The ``network`` and ``training`` sections checked against the configuration schema, with
    its defaults (:class:`TrainingOptions`); checks that need the dataset; the ``auto``/``on``/
    ``off`` switches (:func:`resolve_switch`).
:mod:`.data`
    The samples: :class:`SampleSource` (in memory, or streamed by chunks when the samples
    exceed :func:`default_in_memory_limit`; each sample's context windows, position channels
    and loss weight, :mod:`gravsep.network.features`) and :func:`compute_scales`.
:mod:`.pipeline`
    The ``tf.data`` epochs (:class:`~.pipeline.EpochPipeline`: seeded shuffle, augmentation
    as graph ops, input channels, prefetch).
:mod:`.steps`
    :func:`configure_tensorflow`; the U-Net, Adam (with loss scaling under mixed precision),
    the loss and the compiled train/eval steps; ``MirroredStrategy`` over several devices.
:mod:`.state`
    The resume state file ``state/epoch-NNNNN.h5`` and the SIGTERM watch
    (:class:`TrainingInterrupted`).
:mod:`.monitor`
    Hooks shaped like Keras callbacks: early stopping, best-weights file, history,
    TensorBoard, the per-epoch log line.
:mod:`.trainer`
    :class:`Trainer`: the pieces assembled for one configuration and dataset.
:mod:`.outputs`
    The files of a finished run; :func:`versions`.
:mod:`.loop`
    :func:`train` and the epoch loop.

What :func:`train` writes
-------------------------
Each output under a temporary name first and then renamed (:mod:`gravsep.atomic`), so that a
killed job leaves nothing half-written under a final name:

``weights_path`` (``checkpoints/best.weights.h5``)
    Keras weights of the best epoch (rewritten whenever the monitored loss improves).
``model_path`` (``model.keras``)
    The whole model with the best weights.
``log_path`` (``training_log.h5``)
    One row per epoch run (:mod:`gravsep.formats.training_log`): training and validation
    loss, the monitored value, epoch time, RMS error per split and component [m].
``params_path`` (``parameters.yaml``)
    Network, training, dataset, components, sampling, dim, years, the scales
    (:func:`compute_scales`), package versions, seed, best and stopped epoch, execution
    (:mod:`gravsep.formats.parameters`).
``tensorboard_dir`` (``tensorboard/``, optional)
    TensorBoard event files of the per-epoch values.

Deviations from the reference, on purpose: targets and input may be scaled to tanh's range
(``target_scaling: max_abs``); early stopping may watch the loss over the whole validation
year(s) (``early_stopping: validation_year``); the best epoch is tracked from epoch 1, so it is
always defined, while stopping is only allowed after ``min_epochs``; per-epoch RMS errors use
all samples of every split, batched in graph mode, with dropout off.

Precision and devices: ``training.mixed_precision`` and ``training.xla``
(``auto``/``on``/``off``; ``auto`` = on when a GPU is visible) switch float16 compute with loss
scaling and XLA compilation of the steps; with several visible GPUs the steps run under
``tf.distribute.MirroredStrategy``.

Resume and SIGTERM
------------------
After every epoch the complete training state (model variables including the dropout seed
states, optimiser variables, best weights, history, early-stopping counters) goes to one file
in a ``state/`` folder next to the model; a rerun with the same configuration and dataset
continues after the last completed epoch and gives the same result as an uninterrupted run.
The folder is removed after a successful run; a state from another configuration is ignored.
SIGTERM (as SLURM sends at a time limit) abandons the current epoch, keeps the last state and
ends with :class:`TrainingInterrupted` (exit status 143), writing no outputs.
"""

from gravsep.network.training.data import SampleSource, compute_scales, default_in_memory_limit
from gravsep.network.training.loop import train
from gravsep.network.training.options import TrainingOptions, resolve_switch
from gravsep.network.training.outputs import versions
from gravsep.network.training.state import TrainingInterrupted
from gravsep.network.training.steps import configure_tensorflow
from gravsep.network.training.trainer import Trainer

__all__ = [
    "SampleSource",
    "Trainer",
    "TrainingInterrupted",
    "TrainingOptions",
    "compute_scales",
    "configure_tensorflow",
    "default_in_memory_limit",
    "resolve_switch",
    "train",
    "versions",
]
