"""The outputs of a finished run: best weights, model, training log, parameters.

Written once, at the end of a run that was not interrupted, each atomically
(:mod:`gravsep.atomic`): the Keras weights file and ``model.keras`` with the best weights, the
training log (:mod:`gravsep.formats.training_log`) and the model record
(:mod:`gravsep.formats.parameters`, with :func:`versions`).
"""

import logging
import platform
from importlib import metadata

from gravsep.atomic import atomic_output
from gravsep.formats.parameters import write_parameters
from gravsep.formats.samples import SPLITS
from gravsep.formats.training_log import write_training_log

log = logging.getLogger(__name__)


def versions():
    """Versions of the packages a trained model depends on (``{name: version}``)."""
    out = {"python": platform.python_version()}
    for name in ("gravsep", "tensorflow", "tensorflow-cpu", "keras", "numpy", "h5py"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def parameters(trainer, *, model_name, dataset_h5, best_epoch, stopped_epoch):
    """The model record of a run (layout in :mod:`gravsep.formats.parameters`)."""
    components, given = trainer.components, trainer.options.given
    targets = {c: float(s) for c, s in zip(components, trainer.target_scales, strict=True)}
    return {
        "model": model_name,
        "dataset": str(dataset_h5),
        "components": components,
        "sampling": trainer.sampling,
        "dim": trainer.dim,
        "years": {s: trainer.split_years[s] for s in SPLITS},
        "network": given["network"],
        "training": given["training"],
        "seed": trainer.options.seed,
        "scales": {
            "target_scaling": trainer.options.target_scaling,
            "targets": targets,
            "input": float(trainer.input_scale),
        },
        "inputs": trainer.features.record(),
        "parameters": int(trainer.model.count_params()),
        "best_epoch": int(best_epoch),
        "stopped_epoch": int(stopped_epoch),
        "execution": {
            "mixed_precision": trainer.mixed,
            "xla": trainer.xla,
            "replicas": trainer.replicas,
            "in_memory": trainer.in_memory,
        },
        "versions": versions(),
    }


def write_outputs(trainer, early_stopping, history, stopped_epoch, *, weights_path, model_path,
                  log_path, params_path, model_name, dataset_h5):  # fmt: skip
    """Set the best weights and write the four outputs.

    Parameters
    ----------
    trainer : gravsep.network.training.trainer.Trainer
    early_stopping : gravsep.network.training.monitor.EarlyStopping
        Gives the best epoch and weights; without any (the monitored loss never was finite)
        the last epoch's weights are kept and called the best.
    history : dict
        The per-epoch series (:data:`gravsep.formats.training_log.HISTORY_KEYS`).
    stopped_epoch : int
        The last epoch run (1-based).
    weights_path, model_path, log_path, params_path : path-like
    model_name : str
    dataset_h5 : path-like

    Returns
    -------
    int
        The best epoch (1-based).
    """
    model, best, options = trainer.model, early_stopping.best, trainer.options
    best_weights = early_stopping.best_weights
    if best_weights is None:
        log.warning("no epoch improved the monitored loss; keeping the last weights")
        best.update(epoch=stopped_epoch)
        best_weights = model.get_weights()
    model.set_weights(best_weights)
    with atomic_output(weights_path) as tmp:
        model.save_weights(tmp)
    with atomic_output(model_path) as tmp:
        model.save(tmp)
    write_training_log(
        log_path, history, best_epoch=best["epoch"], stopped_epoch=stopped_epoch,
        components=trainer.components, early_stopping=options.early_stopping,
        min_epochs=options.min_epochs, patience=options.patience,
    )  # fmt: skip
    record = parameters(trainer, model_name=model_name, dataset_h5=dataset_h5,
                        best_epoch=best["epoch"], stopped_epoch=stopped_epoch)  # fmt: skip
    write_parameters(params_path, record)
    return int(best["epoch"])
