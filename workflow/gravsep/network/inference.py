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

The network's input is formed as in training (:mod:`gravsep.network.features`): the input
layout recorded in ``parameters.yaml`` (``inputs``: context windows, position channels; the
paper's single channel when absent), each year's neighbouring windows clamped to the year.

Inference modes: ``deterministic`` runs ``model(x, training=False)`` (dropout off, BatchNorm's
moving statistics), so repeated predictions are identical. ``training`` reproduces the
reference: ``model(x, training=True)`` with dropout on and BatchNorm statistics of each batch
(``batch_size`` 1 gives per-sample statistics as in the reference); the dropout draws are
seeded by ``seed``.
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


def predict_array(model, x, target_scales, input_scale, inference_mode="deterministic",
                  batch_size=32, features=None, positions=None):  # fmt: skip
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
    inference_mode : {"deterministic", "training"}
    batch_size : int
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
    import tensorflow as tf

    check_inference_mode(inference_mode)
    features = features or InputFeatures()
    if features.position and positions is None:
        raise ValueError("the model takes position channels: give the year's positions")
    training = inference_mode == "training"
    dim = x.shape[1]
    n_comp = len(target_scales)
    if len(x) == 0:
        return np.zeros((0, dim, dim, n_comp), np.float32)

    channels = features.channels
    in_scales = features.channel_scales(input_scale)

    @tf.function(input_signature=[tf.TensorSpec([None, dim, dim, channels], tf.float32)])
    def step(xb):
        return model(xb, training=training)

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


def predict(model_path, dataset_h5, out_h5, inference_mode="deterministic", batch_size=32, *,
            parameters_path=None, model_name=None, seed=None, threads=None):  # fmt: skip
    """Predict every year of a dataset with a trained model and write the result.

    Parameters
    ----------
    model_path : path-like
        ``model.keras`` written by :func:`gravsep.network.training.train`.
    dataset_h5 : path-like
        Dataset file.
    out_h5 : path-like
        Output HDF5 (layout in the module docstring).
    inference_mode : {"deterministic", "training"}
    batch_size : int
    parameters_path : path-like, optional
        The model's ``parameters.yaml`` (scales); default next to ``model_path``.
    model_name : str, optional
        Default: from the parameters, else the model folder's name.
    seed : int, optional
        Seed of the dropout draws in ``training`` mode; default the training seed.
    threads : int, optional
        TensorFlow intra-op threads.
    """
    check_inference_mode(inference_mode)
    model_path = Path(model_path)
    parameters_path = Path(parameters_path or model_path.parent / "parameters.yaml")
    params = read_parameters(parameters_path)
    if seed is None:
        seed = params.get("seed", 0)
    configure_tensorflow(threads, seed)
    import keras

    with Samples(dataset_h5) as samples:
        if list(params["components"]) != samples.components:
            raise ValueError(
                f"model components {params['components']} differ from the dataset's "
                f"{samples.components}"
            )
        target_scales, input_scale, components = load_scales(params, samples.components)
        features = InputFeatures.from_record(params.get("inputs"))
        model = keras.models.load_model(model_path, compile=False,
                                        custom_objects={"SpherePad": sphere.SpherePad})  # fmt: skip
        if model.input_shape[-1] != features.channels:
            raise ValueError(
                f"{model_path} takes {model.input_shape[-1]} input channels, its parameters "
                f"record {features.channels} ({features.names})"
            )
        model_name = model_name or params.get("model") or model_path.parent.name
        split = {f"{s}_years": samples.split_years(s) for s in SPLITS}
        with PredictionsWriter(
            out_h5, components=components, sampling=samples.sampling, model=model_name,
            inference_mode=inference_mode, batch_size=int(batch_size), split=split,
            lat=samples.lat, lon=samples.lon,
        ) as writer:  # fmt: skip
            for year in samples.years:
                x = np.asarray(samples.input(year)[()], dtype=np.float32)
                pred = predict_array(
                    model, x, target_scales, input_scale, inference_mode, batch_size,
                    features=features, positions=features.year_positions(samples, year),
                )  # fmt: skip
                writer.add_year(year, samples.numt(year), pred)
                log.info("year %d: %d samples predicted", year, len(pred))
    return Path(out_h5)
