"""Predictions of a trained U-Net for every year of a dataset.

Reads the dataset through :class:`gravsep.formats.samples.Samples` and the model's scales
through :mod:`gravsep.formats.parameters`; writes through
:class:`gravsep.formats.predictions.PredictionsWriter` (under a temporary name, then renamed):

- ``/years/<YYYY>/prediction`` ``(S, dim, dim, C)`` float32, metres EWH (unscaled with the
  scales recorded in the model's ``parameters.yaml``); group attribute ``numt`` copied from the
  dataset;
- ``/lat``, ``/lon`` copied from the dataset when present;
- root attributes ``components``, ``sampling``, ``model``, ``inference_mode``, ``batch_size``,
  ``train_years``, ``validation_years``, ``test_years``, ``units`` (``m``).

Inference modes: ``deterministic`` runs ``model(x, training=False)`` (dropout off, BatchNorm's
moving statistics), so repeated predictions are identical. ``training`` reproduces the
reference: ``model(x, training=True)`` with dropout on and BatchNorm statistics of each batch
(``batch_size`` 1 gives per-sample statistics as in the reference); the dropout draws are
seeded by ``seed``. ``mc_dropout`` is MC dropout proper: dropout on, BatchNorm's moving
statistics (the network is cloned with its dropout layers always on), so repeated passes differ
by their dropout draws only.

Ensembles (:mod:`gravsep.ensemble`): given several trained networks (the members) and/or
``mc_passes`` > 1 (MC dropout: that many ``training``-mode passes of each network, the draws
following each other from ``seed``), the file also holds every pass (``members``) and their
spread, and ``prediction`` is their mean (layout in :mod:`gravsep.formats.predictions`).

The network's input is formed as in training (:mod:`gravsep.network.features`): the input
layout recorded in ``parameters.yaml`` (``inputs``: context windows, position channels; the
paper's single channel when absent), each year's neighbouring windows clamped to the year.
"""

import logging
from pathlib import Path

import numpy as np

from gravsep.config import allowed_values
from gravsep.formats.parameters import load_scales, read_parameters
from gravsep.formats.predictions import PredictionsWriter
from gravsep.formats.samples import SPLITS, Samples
from gravsep.network import sphere
from gravsep.network.features import InputFeatures, network_input
from gravsep.network.training.steps import configure_tensorflow

#: The schema's ``training.inference_mode`` values.
INFERENCE_MODES = tuple(allowed_values("training", "inference_mode"))

log = logging.getLogger("gravsep.network.inference")


def check_inference_mode(inference_mode):
    """Raise ValueError unless ``inference_mode`` is one of :data:`INFERENCE_MODES`."""
    if inference_mode not in INFERENCE_MODES:
        raise ValueError(f"unknown inference_mode {inference_mode!r}; one of {INFERENCE_MODES}")


def dropout_always_on(model):
    """A copy of ``model`` (same weights) whose dropout layers drop also at inference."""
    import keras

    class AlwaysDropout(keras.layers.Dropout):
        def call(self, inputs, training=None):
            return super().call(inputs, training=True)

    def clone(layer):
        cls = AlwaysDropout if isinstance(layer, keras.layers.Dropout) else layer.__class__
        return cls.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def make_step(model, dim, inference_mode="deterministic", channels=1):
    """The compiled forward pass ``(B, dim, dim, channels) -> (B, dim, dim, C)`` of an
    inference mode (built once per network and reused over years and passes)."""
    import tensorflow as tf

    check_inference_mode(inference_mode)
    training = inference_mode == "training"
    if inference_mode == "mc_dropout":
        model = dropout_always_on(model)

    @tf.function(input_signature=[tf.TensorSpec([None, dim, dim, channels], tf.float32)])
    def step(xb):
        return model(xb, training=training)

    return step


def predict_array(model, x, target_scales, input_scale, inference_mode="deterministic",
                  batch_size=32, step=None, features=None, positions=None):  # fmt: skip
    """Predict targets in physical units for inputs in physical units.

    Parameters
    ----------
    model : keras.Model
        Trained U-Net.
    x : numpy.ndarray
        ``(S, dim, dim)`` inputs (metres): one year's samples in order when the input holds
        context windows.
    target_scales : numpy.ndarray
        ``(C,)``; physical target = network output * scale.
    input_scale : float
        Network input = x / input_scale.
    inference_mode : {"deterministic", "training", "mc_dropout"}
    batch_size : int
    step : callable, optional
        :func:`make_step` of ``model`` and ``inference_mode`` (default: built here).
    features : gravsep.network.features.InputFeatures, optional
        The model's input channels; default the paper's single channel.
    positions : tuple of numpy.ndarray, optional
        The year's position parts ``(rows, cols)``
        (:meth:`gravsep.network.features.InputFeatures.year_positions`); needed with
        position channels.

    Returns
    -------
    numpy.ndarray
        ``(S, dim, dim, C)`` float32.
    """
    check_inference_mode(inference_mode)
    features = features or InputFeatures()
    if features.position and positions is None:
        raise ValueError("the model takes position channels: give the year's positions")
    dim = x.shape[1]
    n_comp = len(target_scales)
    if len(x) == 0:
        return np.zeros((0, dim, dim, n_comp), np.float32)
    step = step or make_step(model, dim, inference_mode, features.channels)
    in_scales = features.channel_scales(input_scale)
    x = np.asarray(x, np.float32)
    nbr = features.neighbours(len(x))
    scales = np.asarray(target_scales, np.float32)
    out = np.empty(x.shape + (n_comp,), np.float32)
    for i in range(0, len(x), int(batch_size)):
        sl = slice(i, i + int(batch_size))
        parts = () if positions is None or not features.position else (
            positions[0][sl], positions[1][sl])  # fmt: skip
        xb = (network_input(x[nbr[sl]], *parts) / in_scales).astype(np.float32)
        out[sl] = step(xb).numpy() * scales
    return out


def _as_list(paths):
    if paths is None or isinstance(paths, (str, Path)):
        return [paths]
    return list(paths)


def _load(model_paths, parameters_paths, samples):
    """``[(model, target_scales, input_scale, features)]`` of every member, checked."""
    import keras

    out = []
    for model_path, parameters_path in zip(model_paths, parameters_paths, strict=True):
        model_path = Path(model_path)
        params = read_parameters(Path(parameters_path or model_path.parent / "parameters.yaml"))
        if list(params["components"]) != samples.components:
            raise ValueError(
                f"model components {params['components']} differ from the dataset's "
                f"{samples.components}"
            )
        target_scales, input_scale, _ = load_scales(params, samples.components)
        features = InputFeatures.from_record(params.get("inputs"))
        model = keras.models.load_model(model_path, compile=False,
                                        custom_objects={"SpherePad": sphere.SpherePad})  # fmt: skip
        if model.input_shape[-1] != features.channels:
            raise ValueError(
                f"{model_path} takes {model.input_shape[-1]} input channels, its parameters "
                f"record {features.channels} ({features.names})"
            )
        out.append((model, target_scales, input_scale, features))
    return out


def predict(model_path, dataset_h5, out_h5, inference_mode="deterministic", batch_size=32, *,
            parameters_path=None, model_name=None, seed=None, threads=None,
            mc_passes=1):  # fmt: skip
    """Predict every year of a dataset with a trained model (or an ensemble) and write it.

    Parameters
    ----------
    model_path : path-like or list of path-like
        ``model.keras`` written by :func:`gravsep.network.training.train`; several: the
        members of an ensemble (:mod:`gravsep.ensemble`), whose mean is the prediction.
    dataset_h5 : path-like
        Dataset file.
    out_h5 : path-like
        Output HDF5 (layout in the module docstring).
    inference_mode : {"deterministic", "training"}
    batch_size : int
    parameters_path : path-like or list of path-like, optional
        The models' ``parameters.yaml`` (scales); default next to each ``model_path``.
    model_name : str, optional
        Default: from the parameters, else the model folder's name.
    seed : int, optional
        Seed of the dropout draws in ``training`` mode; default the (first) training seed.
    threads : int, optional
        TensorFlow intra-op threads.
    mc_passes : int
        Stochastic passes of each network (MC dropout, ``training`` mode); with several
        members or passes the file holds them all and their spread.
    """
    check_inference_mode(inference_mode)
    model_paths = _as_list(model_path)
    parameters_paths = _as_list(parameters_path)
    if parameters_paths == [None]:
        parameters_paths = [None] * len(model_paths)
    first = read_parameters(
        Path(parameters_paths[0] or Path(model_paths[0]).parent / "parameters.yaml")
    )
    if seed is None:
        seed = first.get("seed", 0)
    configure_tensorflow(threads, seed)
    mc_passes = int(mc_passes)
    ensemble = None
    if len(model_paths) > 1 or mc_passes > 1:
        ensemble = (len(model_paths), mc_passes)

    with Samples(dataset_h5) as samples:
        nets = _load(model_paths, parameters_paths, samples)
        steps = [make_step(net, samples.dim, inference_mode, feat.channels)
                 for net, _, _, feat in nets]  # fmt: skip
        components = samples.components
        model_name = model_name or first.get("model") or Path(model_paths[0]).parent.name
        split = {f"{s}_years": samples.split_years(s) for s in SPLITS}
        with PredictionsWriter(
            out_h5, components=components, sampling=samples.sampling, model=model_name,
            inference_mode=inference_mode, batch_size=int(batch_size), split=split,
            lat=samples.lat, lon=samples.lon, ensemble=ensemble,
        ) as writer:  # fmt: skip
            for year in samples.years:
                x = np.asarray(samples.input(year)[()], dtype=np.float32)
                passes = []
                for (net, ts, xs, feat), step in zip(nets, steps, strict=True):
                    positions = feat.year_positions(samples, year)  # once for all passes
                    passes += [
                        predict_array(net, x, ts, xs, inference_mode, batch_size, step,
                                      features=feat, positions=positions)
                        for _ in range(mc_passes)
                    ]  # fmt: skip
                if ensemble is None:
                    writer.add_year(year, samples.numt(year), passes[0])
                else:
                    writer.add_year(year, samples.numt(year), None, np.stack(passes))
                log.info("year %d: %d samples predicted (%d passes)", year, len(x),
                         len(passes))  # fmt: skip
    return Path(out_h5)
