"""Predictions of a trained U-Net for every year of a dataset.

Output file (written under a temporary name, then renamed):

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
seeded by ``seed``.
"""

import logging
from pathlib import Path

import h5py
import numpy as np
import yaml

from gravsep.atomic import atomic_output
from gravsep.formats.parameters import load_scales
from gravsep.formats.samples import read_samples as read_dataset
from gravsep.network.training import configure_tensorflow

INFERENCE_MODES = ("deterministic", "training")

log = logging.getLogger("gravsep.network.inference")


def predict_array(model, x, target_scales, input_scale, inference_mode="deterministic",
                  batch_size=32):  # fmt: skip
    """Predict targets in physical units for inputs in physical units.

    Parameters
    ----------
    model : keras.Model
        Trained U-Net.
    x : numpy.ndarray
        ``(S, dim, dim)`` inputs (metres).
    target_scales : numpy.ndarray
        ``(C,)``; physical target = network output * scale.
    input_scale : float
        Network input = x / input_scale.
    inference_mode : {"deterministic", "training"}
    batch_size : int

    Returns
    -------
    numpy.ndarray
        ``(S, dim, dim, C)`` float32.
    """
    import tensorflow as tf

    if inference_mode not in INFERENCE_MODES:
        raise ValueError(f"unknown inference_mode {inference_mode!r}; one of {INFERENCE_MODES}")
    training = inference_mode == "training"
    dim = x.shape[1]
    n_comp = len(target_scales)
    if len(x) == 0:
        return np.zeros((0, dim, dim, n_comp), np.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, dim, dim], tf.float32)])
    def step(xb):
        return model(xb[..., None], training=training)

    xs = (np.asarray(x, np.float32) / np.float32(input_scale)).astype(np.float32)
    scales = np.asarray(target_scales, np.float32)
    out = np.empty(x.shape + (n_comp,), np.float32)
    for i in range(0, len(xs), int(batch_size)):
        out[i : i + batch_size] = step(xs[i : i + batch_size]).numpy() * scales
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
    model_path = Path(model_path)
    parameters_path = Path(parameters_path or model_path.parent / "parameters.yaml")
    with open(parameters_path) as f:
        params = yaml.safe_load(f)
    if seed is None:
        seed = params.get("seed", 0)
    configure_tensorflow(threads, seed)
    import keras

    data = read_dataset(dataset_h5)
    if list(params["components"]) != data["components"]:
        raise ValueError(
            f"model components {params['components']} differ from the dataset's "
            f"{data['components']}"
        )
    target_scales, input_scale, components = load_scales(parameters_path, data["components"])
    model = keras.models.load_model(model_path, compile=False)
    model_name = model_name or params.get("model") or model_path.parent.name
    with atomic_output(out_h5) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["components"] = components
        f.attrs["sampling"] = data["sampling"]
        f.attrs["model"] = model_name
        f.attrs["inference_mode"] = inference_mode
        f.attrs["batch_size"] = int(batch_size)
        f.attrs["units"] = "m"
        for key in ("train_years", "validation_years", "test_years"):
            f.attrs[key] = np.asarray(data[key], dtype=np.int64)
        for key in ("lat", "lon"):
            if data[key] is not None:
                f.create_dataset(key, data=data[key])
        for year, d in data["years"].items():
            pred = predict_array(
                model, d["input"], target_scales, input_scale, inference_mode, batch_size
            )
            g = f.create_group(f"years/{year}")
            g.attrs["numt"] = d["numt"]
            g.create_dataset("prediction", data=pred)
            log.info("year %d: %d samples predicted", year, len(pred))
    return Path(out_h5)
