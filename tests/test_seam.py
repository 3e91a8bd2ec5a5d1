"""The seam at longitude 0/360: gone with periodic padding, there with the paper's zeros.

A small U-Net learns to separate two longitude-periodic components of different scale from
their sum (a local filtering task, like the separation of the real components). The data are
invariant under a shift in longitude, so a network that treats longitude as a circle errs
alike in every column; zero padding puts an edge at 0/360, where the network sees zeros
instead of the neighbouring columns and errs more.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from gravsep.network.unet import build_unet

DIM = 32
NETWORK = {"num_filters_min": 8, "num_filters_max": 32, "filter_size": 4, "dropout": 0.0,
           "dropout_blocks": 0}  # fmt: skip
EDGE = [0, 1, DIM - 2, DIM - 1]  # the columns next to longitude 0/360
INTERIOR = list(range(8, DIM - 8))


def _fields(n, rng):
    """Two components on a DIM x DIM lat-lon grid, periodic in longitude: a large-scale one
    (longitude wavenumbers 1-2) and a small-scale one (wavenumbers 5-7) [arbitrary units]."""
    lat = np.linspace(0, np.pi, DIM)[None, :, None]
    lon = 2 * np.pi * np.arange(DIM)[None, None, :] / DIM
    out = np.zeros((n, DIM, DIM, 2), np.float32)
    for c, waves in enumerate(((1, 2), (5, 6, 7))):
        for m in waves:
            a = rng.normal(size=(n, 1, 1)) / len(waves)
            phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
            ell = rng.integers(1, 4, size=(n, 1, 1))
            out[..., c] += (a * np.cos(m * lon + phase) * np.sin(ell * lat)).astype(np.float32)
    return out


def column_errors(padding, steps=300, seed=0):
    """RMS error per longitude column on held-out samples after a short training."""
    rng = np.random.default_rng(seed)
    y_train, y_test = _fields(512, rng), _fields(128, rng)
    keras.utils.set_random_seed(seed)
    model = build_unet(DIM, 2, NETWORK | {"padding": padding})
    optimizer = keras.optimizers.Adam(3e-3)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    order = np.random.default_rng(seed + 1)
    for _ in range(steps):
        batch = order.integers(len(y_train), size=32)
        y = y_train[batch]
        step(y.sum(-1, keepdims=True), y)
    pred = model(y_test.sum(-1, keepdims=True), training=False).numpy()
    return np.sqrt(((pred - y_test) ** 2).mean(axis=(0, 1, 3)))


@pytest.fixture(scope="module")
def errors():
    return {p: column_errors(p) for p in ("zeros", "periodic")}


def test_no_seam_with_periodic_padding(errors):
    e = errors["periodic"]
    assert e[EDGE].mean() <= 1.1 * e[INTERIOR].mean(), e


def test_zero_padding_has_the_seam(errors):
    e = errors["zeros"]
    assert e[EDGE].mean() > 1.3 * e[INTERIOR].mean(), e
    # and the periodic network is better at the seam than the zero-padded one
    assert errors["periodic"][EDGE].mean() < e[EDGE].mean()
