"""The full-size configuration (512 x 512, filters 64..512) builds and trains one step on CPU."""

import numpy as np
import pytest


def _assert_one_step_trains(model, loss_fn, optimizer, x_net, x_loss, y):
    """One gradient step on (x_net -> y): finite loss and gradients, and the weights move (with
    the linear head the U-Net's output layer starts at zero, so the first step moves only it)."""
    import tensorflow as tf

    @tf.function
    def step(x_net, x_loss, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(x_loss, y, model(x_net, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, grads

    head = any(layer.name == "head_sum" for layer in model.layers)
    moved = model.get_layer("output" if head else "enc5_conv")
    before = moved.kernel.numpy().copy()
    loss, grads = step(x_net, x_loss, y)
    assert np.isfinite(float(loss))
    assert all(np.all(np.isfinite(g.numpy())) for g in grads)
    assert not np.array_equal(before, moved.kernel.numpy())


@pytest.mark.slow
def test_full_size_one_training_step():
    import keras
    from gravsep.network.losses import SeparationLoss
    from gravsep.network.unet import build_unet, depth_for

    dim, n_comp = 512, 4
    network = {
        "num_filters_min": 64,
        "num_filters_max": 512,
        "filter_size": 4,
        "dropout": 0.5,
        "dropout_blocks": 3,
    }
    keras.utils.set_random_seed(1)
    model = build_unet(dim, n_comp, network)
    assert depth_for(dim) == 9
    assert model.output_shape == (None, dim, dim, n_comp)
    assert model.get_layer("enc9_act").output.shape[1:] == (1, 1, 512)
    assert model.count_params() > 50_000_000
    optimizer = keras.optimizers.Adam(learning_rate=1e-5, beta_1=0.9, beta_2=0.999)
    loss_fn = SeparationLoss(n_comp, "signal_weighted_MSE", [1] * n_comp, 0.0)
    rng = np.random.default_rng(0)
    y = rng.uniform(-0.5, 0.5, size=(1, dim, dim, n_comp)).astype(np.float32)
    x = y.sum(-1)
    _assert_one_step_trains(model, loss_fn, optimizer, x[..., None], x, y)


@pytest.mark.slow
def test_full_size_with_the_sphere_options_one_training_step():
    """512 x 512, filters 64..512, with periodic padding, 2 context windows on each side,
    position channels, the area-weighted loss and a linear head (of rank 64, zeros; a fitted
    one has the rank of the training windows): builds, one step, finite, weights move."""
    import keras
    from gravsep.network.features import InputFeatures
    from gravsep.network.losses import SeparationLoss, area_weights
    from gravsep.network.unet import build_unet

    dim, n_comp = 512, 4
    features = InputFeatures(context_windows=2, position=True)
    network = {"num_filters_min": 64, "num_filters_max": 512, "filter_size": 4, "dropout": 0.5,
               "dropout_blocks": 3, "padding": "periodic", "linear_head": True}  # fmt: skip
    keras.utils.set_random_seed(1)
    model = build_unet(dim, n_comp, network, in_channels=features.channels, linear_head=64)
    assert not model.get_layer("head_map").trainable
    assert model.input_shape == (None, dim, dim, features.channels) and features.channels > 5
    assert model.output_shape == (None, dim, dim, n_comp)
    assert any(layer.__class__.__name__ == "SpherePad" for layer in model.layers)
    lat = 90 - 180 * np.arange(dim) / dim
    loss_fn = SeparationLoss(n_comp, "signal_weighted_MSE", [1] * n_comp, 0.0,
                             row_weights=area_weights(lat))  # fmt: skip
    optimizer = keras.optimizers.Adam(learning_rate=1e-5)
    rng = np.random.default_rng(0)
    y = rng.uniform(-0.5, 0.5, size=(1, dim, dim, n_comp)).astype(np.float32)
    x = rng.uniform(-1, 1, size=(1, dim, dim, features.channels)).astype(np.float32)
    x[..., 0] = y.sum(-1)
    _assert_one_step_trains(model, loss_fn, optimizer, x, x, y)
