"""Tests of the multi-channel U-Net builder."""

import keras
import numpy as np
import pytest
from gravsep.network.unet import build_unet, depth_for, filter_list

NETWORK = {
    "num_filters_min": 4,
    "num_filters_max": 16,
    "filter_size": 4,
    "dropout": 0.5,
    "dropout_blocks": 3,
}


def test_filter_list_doubles_then_keeps_max_until_1x1():
    assert filter_list(64, 16, 128) == [16, 32, 64, 128, 128, 128]
    assert filter_list(256, 64, 512) == [64, 128, 256, 512, 512, 512, 512, 512]
    assert filter_list(16, 8, 1024) == [8, 16, 32, 64]
    for dim in (2, 4, 32, 512):
        assert len(filter_list(dim, 1, 1)) == depth_for(dim) == int(np.log2(dim))


@pytest.mark.parametrize("dim", [0, 1, 3, 48, 100])
def test_dim_must_be_power_of_two(dim):
    with pytest.raises(ValueError):
        filter_list(dim, 4, 16)


def test_bad_filter_bounds():
    with pytest.raises(ValueError):
        filter_list(16, 32, 16)


def _layers(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def test_structure_and_output():
    dim, n_comp = 32, 3
    model = build_unet(dim, n_comp, NETWORK)
    depth = 5
    assert model.input_shape == (None, dim, dim, 1)
    assert model.output_shape == (None, dim, dim, n_comp)

    convs = _layers(model, keras.layers.Conv2D)
    convs = [c for c in convs if not isinstance(c, keras.layers.Conv2DTranspose)]
    assert [c.filters for c in convs] == filter_list(dim, 4, 16)
    for c in convs:
        assert c.strides == (2, 2) and c.kernel_size == (4, 4) and not c.use_bias
        init = c.kernel_initializer.get_config()
        assert init["mean"] == 0.0 and init["stddev"] == 0.02

    names = {layer.name for layer in model.layers}
    assert "enc1_bn" not in names
    assert all(f"enc{i}_bn" in names for i in range(2, depth + 1))
    assert all(f"dec{j}_bn" in names for j in range(1, depth))
    # Encoder and decoder block counts; decoder mirrors the encoder's filters.
    up = _layers(model, keras.layers.Conv2DTranspose)
    assert [u.filters for u in up] == [16, 16, 8, 4, n_comp]
    assert len(_layers(model, keras.layers.Concatenate)) == depth - 1
    assert len(_layers(model, keras.layers.LeakyReLU)) == depth
    assert len(_layers(model, keras.layers.ReLU)) == depth - 1

    drops = _layers(model, keras.layers.Dropout)
    assert [d.name for d in drops] == ["dec1_dropout", "dec2_dropout", "dec3_dropout"]
    assert all(d.rate == 0.5 for d in drops)

    out = model.get_layer("output")
    assert model.layers[-1] is out
    assert out.activation is keras.activations.tanh
    x = np.random.default_rng(0).normal(0, 10, (2, dim, dim, 1)).astype(np.float32)
    y = model(x, training=False).numpy()
    assert y.shape == (2, dim, dim, n_comp)
    assert np.all(np.abs(y) <= 1)


def test_dropout_block_count_is_clipped_and_can_be_zero():
    model = build_unet(16, 2, dict(NETWORK, dropout_blocks=10))
    assert len(_layers(model, keras.layers.Dropout)) == 3  # 4 encoder, 3 decoder blocks
    model = build_unet(16, 2, dict(NETWORK, dropout_blocks=0))
    assert not _layers(model, keras.layers.Dropout)
    model = build_unet(16, 2, dict(NETWORK, dropout=0.0))
    assert not _layers(model, keras.layers.Dropout)


def test_missing_key():
    with pytest.raises(ValueError, match="filter_size"):
        build_unet(16, 2, {k: v for k, v in NETWORK.items() if k != "filter_size"})


def test_same_seed_same_weights():
    keras.utils.set_random_seed(3)
    a = build_unet(16, 2, NETWORK).get_weights()
    keras.utils.set_random_seed(3)
    b = build_unet(16, 2, NETWORK).get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    # Layers of equal shape are not initialised equally.
    model = build_unet(16, 2, dict(NETWORK, num_filters_min=16))
    k3, k4 = model.get_layer("enc3_conv").kernel, model.get_layer("enc4_conv").kernel
    assert k3.shape == k4.shape
    assert not np.array_equal(k3.numpy(), k4.numpy())


def test_depth_rule_full_size():
    assert depth_for(512) == 9 and depth_for(256) == 8 and depth_for(64) == 6
    assert filter_list(512, 64, 512) == [64, 128, 256] + [512] * 6


def _follows(model, before, after):
    """Whether layer ``after`` takes the output of layer ``before`` as (one of) its inputs."""
    inputs = model.get_layer(after).input
    inputs = inputs if isinstance(inputs, list) else [inputs]
    return any(t is model.get_layer(before).output for t in inputs)


@pytest.mark.parametrize("n_dropout", [0, 1, 3])
def test_each_block_has_its_layers_in_order(n_dropout):
    dim, n_comp = 32, 2
    net = dict(NETWORK, dropout_blocks=n_dropout)
    model = build_unet(dim, n_comp, net)
    filters = filter_list(dim, 4, 16)
    depth = len(filters)
    assert _follows(model, "input", "enc1_conv")
    for i in range(1, depth + 1):
        chain = [f"enc{i}_conv"] + ([f"enc{i}_bn"] if i > 1 else []) + [f"enc{i}_act"]
        for a, b in zip(chain, chain[1:], strict=False):
            assert _follows(model, a, b), (a, b)
        if i < depth:
            assert _follows(model, f"enc{i}_act", f"enc{i + 1}_conv")
        act = model.get_layer(f"enc{i}_act")
        assert isinstance(act, keras.layers.LeakyReLU)
        assert tuple(act.output.shape) == (None, dim >> i, dim >> i, filters[i - 1])
    for j in range(1, depth):
        drop = [f"dec{j}_dropout"] if j <= n_dropout else []
        chain = [f"dec{j}_conv", f"dec{j}_bn", *drop, f"dec{j}_act", f"dec{j}_skip"]
        for a, b in zip(chain, chain[1:], strict=False):
            assert _follows(model, a, b), (a, b)
        # U skip: concatenated with the mirrored encoder block of the same size.
        mirrored = depth - j
        assert _follows(model, f"enc{mirrored}_act", f"dec{j}_skip")
        size = dim >> mirrored
        skip = model.get_layer(f"dec{j}_skip")
        assert tuple(skip.output.shape) == (None, size, size, 2 * filters[mirrored - 1])
        conv = model.get_layer(f"dec{j}_conv")
        assert isinstance(conv, keras.layers.Conv2DTranspose)
        assert conv.strides == (2, 2) and not conv.use_bias
        assert conv.kernel_initializer.get_config()["stddev"] == 0.02
    first = "enc1_act" if depth == 1 else f"dec{depth - 1}_skip"
    assert _follows(model, first, "output")
    drops = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert drops == [f"dec{j}_dropout" for j in range(1, n_dropout + 1)]


def test_dropout_active_only_in_training():
    model = build_unet(16, 2, NETWORK)
    x = np.random.default_rng(1).normal(size=(2, 16, 16, 1)).astype(np.float32)
    a, b = model(x, training=False).numpy(), model(x, training=False).numpy()
    assert np.array_equal(a, b)
    c, d = model(x, training=True).numpy(), model(x, training=True).numpy()
    assert not np.array_equal(c, d)


def test_tanh_output_in_float32_under_mixed_precision():
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_unet(16, 2, NETWORK)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert model.get_layer("enc2_conv").compute_dtype == "float16"
    out = model.get_layer("output")
    assert out.compute_dtype == "float32" and out.activation is keras.activations.tanh
    y = model(np.full((1, 16, 16, 1), 50.0, np.float32)).numpy()
    assert y.dtype == np.float32 and np.all(np.abs(y) <= 1)
