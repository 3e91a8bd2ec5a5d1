"""Tests of the separation loss against NumPy computations."""

import numpy as np
import pytest
import tensorflow as tf
from gravsep.network.losses import (
    NORM_FLOOR,
    SeparationLoss,
    linear_shape_term,
    normalisation,
    normalise_weights,
    per_component_weights,
    slope_value_term,
)

RNG = np.random.default_rng(42)
B, H, W, C = 3, 8, 10, 3


def _data(scale=1.0):
    y = (RNG.normal(size=(B, H, W, C)) * scale).astype(np.float32)
    p = (y + RNG.normal(scale=0.3 * scale, size=y.shape)).astype(np.float32)
    return y.sum(-1), y, p


def _np_norm(ref, loss_type):
    axes = (1, 2)
    if loss_type == "absolute_MSE":
        return np.ones(np.delete(ref.shape, axes))
    if loss_type == "relative_MSE":
        value = (ref.astype(np.float64) ** 2).mean(axis=axes)
    else:
        value = np.abs(ref.astype(np.float64)).mean(axis=axes)
    return np.maximum(value, 0.01)


def _np_loss(x, y, p, loss_type, cw, sw, scales=None, in_scale=1.0):
    cw = np.asarray(cw, float)
    tot = cw.sum() + sw
    cw, sw = cw / tot, sw / tot
    y, p, x = y.astype(np.float64), p.astype(np.float64), x.astype(np.float64)
    mse = ((p - y) ** 2).mean(axis=(1, 2)) / _np_norm(y, loss_type)  # (B, C)
    loss = (mse.mean(axis=0) * cw).sum()
    scales = np.ones(y.shape[-1]) if scales is None else np.asarray(scales)
    summed = (p * scales).sum(-1) / in_scale
    mse_sum = ((summed - x) ** 2).mean(axis=(1, 2)) / _np_norm(x, loss_type)
    return loss + sw * mse_sum.mean()


@pytest.mark.parametrize("loss_type", ["absolute_MSE", "relative_MSE", "signal_weighted_MSE"])
@pytest.mark.parametrize("scale", [1.0, 0.003])
def test_loss_types_against_numpy(loss_type, scale):
    x, y, p = _data(scale)
    cw, sw = [1.0, 2.0, 0.5], 1.5
    loss = SeparationLoss(C, loss_type, cw, sw)
    terms = loss.terms(x, y, p)
    expected = _np_loss(x, y, p, loss_type, cw, sw)
    np.testing.assert_allclose(float(terms["total"]), expected, rtol=1e-5)
    np.testing.assert_allclose(float(loss(x, y, p)), expected, rtol=1e-5)
    # x may carry the trailing channel axis of the network input.
    np.testing.assert_allclose(float(loss(x[..., None], y, p)), expected, rtol=1e-5)


def test_norm_is_clipped_below():
    tiny = np.full((2, 4, 4, 2), 1e-4, np.float32)
    for loss_type in ("relative_MSE", "signal_weighted_MSE"):
        np.testing.assert_allclose(normalisation(tiny, loss_type).numpy(), NORM_FLOOR)
    big = np.full((2, 4, 4, 2), 3.0, np.float32)
    np.testing.assert_allclose(normalisation(big, "relative_MSE").numpy(), 9.0)
    np.testing.assert_allclose(normalisation(big, "signal_weighted_MSE").numpy(), 3.0)
    np.testing.assert_allclose(normalisation(big[..., 0], "absolute_MSE").numpy(), np.ones(2))
    # The clip makes a loss of tiny fields the absolute error / 0.01.
    y = np.zeros((1, 4, 4, 1), np.float32)
    p = np.full_like(y, 0.001)
    loss = SeparationLoss(1, "relative_MSE")
    np.testing.assert_allclose(float(loss(y[..., 0], y, p)), 1e-6 / NORM_FLOOR, rtol=1e-5)


def test_weights_normalised_to_one():
    w, s = normalise_weights([1, 1, 1, 1], 0)
    np.testing.assert_allclose(w, 0.25) and s == 0
    w, s = normalise_weights([1, 3], 4)
    np.testing.assert_allclose(w, [0.125, 0.375])
    assert s == 0.5
    with pytest.raises(ValueError):
        normalise_weights([0, 0], 0)
    with pytest.raises(ValueError):
        normalise_weights([1, -1], 1)
    np.testing.assert_allclose(per_component_weights(2.0, 4), 0.5)
    np.testing.assert_allclose(per_component_weights([0, 0, 1], 3), [0, 0, 1])
    with pytest.raises(ValueError):
        per_component_weights([1, 2], 3)
    # Only the ratio of the weights matters.
    x, y, p = _data()
    a = SeparationLoss(C, "relative_MSE", [1, 2, 3], 4)(x, y, p)
    b = SeparationLoss(C, "relative_MSE", [10, 20, 30], 40)(x, y, p)
    np.testing.assert_allclose(float(a), float(b), rtol=1e-6)


def test_sum_term_in_physical_units():
    # Physical targets T = y * s, physical input X = sum T; network input x = X / s_in.
    x, y, p = _data()
    scales = np.array([0.1, 2.0, 0.5])
    in_scale = 1.7
    yn, pn = y / scales, p / scales
    xn = (y.sum(-1) / in_scale).astype(np.float32)
    for loss_type in ("absolute_MSE", "relative_MSE"):
        loss = SeparationLoss(
            C, loss_type, [0, 0, 0], 1.0, target_scales=scales, input_scale=in_scale
        )
        expected = _np_loss(xn, yn, pn, loss_type, [0, 0, 0], 1.0, scales, in_scale)
        np.testing.assert_allclose(float(loss(xn, yn, pn)), expected, rtol=1e-5)
    # A prediction that is exact in physical units has no sum error, whatever the scales.
    loss = SeparationLoss(C, "absolute_MSE", [0, 0, 0], 1.0, target_scales=scales,
                          input_scale=in_scale)  # fmt: skip
    assert float(loss(xn, yn, yn)) < 1e-12
    # The terms are reported individually.
    terms = SeparationLoss(C, "absolute_MSE", [1, 1, 1], 1.0).terms(x, y, p)
    assert terms["components"].shape == (C,)
    np.testing.assert_allclose(
        float(terms["total"]), float(tf.reduce_sum(terms["components"]) + terms["sum"])
    )


def test_batching_does_not_change_the_loss():
    x, y, p = _data()
    loss = SeparationLoss(C, "signal_weighted_MSE", [1, 1, 1], 1)
    whole = float(loss(x, y, p))
    parts = [float(loss(x[i : i + 1], y[i : i + 1], p[i : i + 1])) for i in range(B)]
    np.testing.assert_allclose(whole, np.mean(parts), rtol=1e-6)


def _time_field(values, time_axis, other=5):
    """(1, rows, cols, 1) with ``values`` along time and constant along the other axis."""
    v = np.asarray(values, np.float32)
    field = np.tile(v[:, None], (1, other)) if time_axis == 1 else np.tile(v[None, :], (other, 1))
    return field[None, ..., None]


@pytest.mark.parametrize("time_axis", [1, 2])
def test_slope_and_shape_terms(time_axis):
    rng = np.random.default_rng(1)
    y = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(slope_value_term(y, y, time_axis).numpy(), 0.0, atol=1e-12)
    t = np.arange(8, dtype=np.float32)
    # Linear in time: no shape error.
    lin = _time_field(3.0 * t - 1.0, time_axis)
    np.testing.assert_allclose(linear_shape_term(lin, time_axis).numpy(), 0.0, atol=1e-10)
    # Slopes a and b give a slope-value term of (a - b)^2.
    a, b = _time_field(2.0 * t, time_axis), _time_field(-0.5 * t + 4, time_axis)
    np.testing.assert_allclose(slope_value_term(b, a, time_axis).numpy(), [6.25], rtol=1e-6)
    # t^2 over T steps: slopes 2t + 1, mean T - 1, shape term ((T - 1)^2 - 1) / 3.
    quad = _time_field(t**2, time_axis)
    np.testing.assert_allclose(linear_shape_term(quad, time_axis).numpy(), [16.0], rtol=1e-6)
    # The mean slope of t^2 equals that of the line through its end points.
    chord = _time_field(7.0 * t, time_axis)
    np.testing.assert_allclose(slope_value_term(chord, quad, time_axis).numpy(), 0, atol=1e-9)


def test_time_terms_in_total_loss():
    t = np.arange(8, dtype=np.float32)
    y = np.concatenate([_time_field(2.0 * t, 2), _time_field(t, 2)], axis=-1)
    p = np.concatenate([_time_field(t**2, 2), _time_field(t, 2)], axis=-1)
    x = y.sum(-1)
    # Component 0: slope (7 - 2)^2 = 25, shape 16; component 1: both 0.
    loss = SeparationLoss(2, "absolute_MSE", [1, 0], 0, slope_weight=[1, 0], shape_weight=[2, 0],
                          time_axis=2)  # fmt: skip
    terms = loss.terms(x, y, p)
    np.testing.assert_allclose(terms["slope"].numpy(), [25, 0], rtol=1e-6)
    np.testing.assert_allclose(terms["shape"].numpy(), [32, 0], rtol=1e-6)
    mse = ((p[..., 0] - y[..., 0]) ** 2).mean()
    np.testing.assert_allclose(float(terms["total"]), mse + 25 + 32, rtol=1e-5)
    # A scalar weight is spread evenly over the components.
    even = SeparationLoss(2, "absolute_MSE", [1, 0], 0, slope_weight=2.0, time_axis=2)
    np.testing.assert_allclose(even.terms(x, y, p)["slope"].numpy(), [25, 0], rtol=1e-6)


def test_time_terms_need_time_axis():
    with pytest.raises(ValueError, match="time axis"):
        SeparationLoss(2, slope_weight=1.0)
    with pytest.raises(ValueError, match="time axis"):
        SeparationLoss.from_config(_training(shape_weight=0.5), 2, "lat_lon")
    loss = SeparationLoss.from_config(_training(shape_weight=0.5), 2, "t_lon")
    assert loss.time_axis == 1
    assert SeparationLoss.from_config(_training(slope_weight=1), 2, "lat_t").time_axis == 2
    # Zero weights are fine without a time axis; the terms are then zero.
    terms = SeparationLoss.from_config(_training(), 3, "lat_lon").terms(*_data())
    assert not np.any(terms["slope"].numpy()) and not np.any(terms["shape"].numpy())


def _training(**kw):
    base = {
        "loss_type": "relative_MSE",
        "component_weights": None,
        "sum_weight": 0,
        "slope_weight": 0,
        "shape_weight": 0,
    }
    return base | kw


def test_bad_arguments():
    with pytest.raises(ValueError, match="loss_type"):
        SeparationLoss(2, "L1")
    with pytest.raises(ValueError, match="component weights"):
        SeparationLoss(2, component_weights=[1, 1, 1])
    with pytest.raises(ValueError, match="sampling"):
        SeparationLoss.from_config(_training(), 2, "lon_lat")


def test_usable_in_tf_function_with_gradients():
    x, y, p = _data()
    loss = SeparationLoss(C, "signal_weighted_MSE", [1, 1, 1], 1)
    var = tf.Variable(p)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = loss(x, y, var)
        return value, tape.gradient(value, var)

    value, grad = step()
    np.testing.assert_allclose(float(value), float(loss(x, y, p)), rtol=1e-6)
    assert np.all(np.isfinite(grad.numpy())) and np.any(grad.numpy())


def _config(**training):
    import yaml

    repo = __import__("pathlib").Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    config.pop("apply")  # it applies the shipped `monthly` model, replaced here
    config["models"] = {
        "flat": {"training": dict(training)},
        "timed": {"dataset": {"sampling": "t_lon"}, "training": dict(training)},
    }
    return config


@pytest.mark.parametrize("key", ["slope_weight", "shape_weight"])
@pytest.mark.parametrize("value", [0.5, [0, 0, 0, 1.0]])
def test_config_check_refuses_slope_and_shape_for_lat_lon(key, value):
    from gravsep.config import ConfigError, check

    with pytest.raises(ConfigError, match=r"models\.flat\.training\.slope_weight/shape_weight"):
        check(_config(**{key: value}))
    config = _config(**{key: value})
    del config["models"]["flat"]
    models = check(config)  # a time axis (t_lon) is fine
    assert models["timed"]["training"][key] == value
    # lat_t is fine as well, and zero weights are fine for lat_lon.
    config["models"]["timed"]["dataset"]["sampling"] = "lat_t"
    check(config)
    check(_config(**{key: 0}))
    check(_config(**{key: [0, 0, 0, 0]}))


def test_norm_clip_applies_to_each_loss_type_in_the_total():
    # Tiny fields: every normalisation is clipped at 0.01, so both normalised types equal
    # absolute_MSE / 0.01.
    y = np.full((2, 4, 4, 2), 1e-4, np.float32)
    p = y + 1e-3
    x = y.sum(-1)
    absolute = float(SeparationLoss(2, "absolute_MSE", [1, 1], 1)(x, y, p))
    for loss_type in ("relative_MSE", "signal_weighted_MSE"):
        value = float(SeparationLoss(2, loss_type, [1, 1], 1)(x, y, p))
        np.testing.assert_allclose(value, absolute / NORM_FLOOR, rtol=1e-5)
    assert NORM_FLOOR == 0.01


def test_sum_term_alone():
    # Perfect components except a constant bias in one: only the sum term sees the sum error.
    x, y, _ = _data()
    p = y.copy()
    p[..., 0] += 0.5
    terms = SeparationLoss(C, "absolute_MSE", [0, 0, 0], 1.0).terms(x, y, p)
    np.testing.assert_allclose(float(terms["sum"]), 0.25, rtol=1e-5)
    np.testing.assert_allclose(float(terms["total"]), 0.25, rtol=1e-5)
    assert not np.any(terms["components"].numpy())
    terms = SeparationLoss(C, "absolute_MSE", [1, 1, 1], 0.0).terms(
        x, y, y.sum(-1)[..., None] * 0 + y
    )
    assert float(terms["sum"]) == 0.0 and float(terms["total"]) == 0.0


def test_area_weighted_loss_is_the_metrics_area_weighted_mean_square():
    """``training.area_weighted_loss`` on lat_lon images: the absolute-MSE component term of
    one sample is the metrics' area-weighted mean square (metrics.rms squared, cos-latitude
    row areas) of the error; unweighted, it is not."""
    from gravsep.evaluation.metrics import rms
    from gravsep.harmonics.grids import lat_lon
    from gravsep.network.losses import area_weights

    dim = 16
    lat = lat_lon(dim)[0]  # the images' DH grid, north pole row first
    rows = area_weights(lat)
    np.testing.assert_allclose(rows.mean(), 1.0, rtol=1e-14)
    cos = np.cos(np.radians(lat))
    np.testing.assert_allclose(rows, cos / cos.mean(), rtol=0, atol=1e-14)
    rng = np.random.default_rng(3)
    y = rng.normal(size=(1, dim, dim, 1)).astype(np.float32)
    # errors largest at the poles, where the rows hold the least area
    p = y + (np.abs(lat)[None, :, None, None] / 90.0) ** 4 * rng.normal(size=y.shape)
    training = {"loss_type": "absolute_MSE", "area_weighted_loss": True}
    weighted = SeparationLoss.from_config(training, 1, "lat_lon", lat=lat)
    plain = SeparationLoss.from_config({**training, "area_weighted_loss": False}, 1, "lat_lon")
    expected = rms((p - y)[0, ..., 0][..., None], lat) ** 2  # (lat, lon, t=1)
    got = float(weighted.terms(y[..., 0], y, p)["components"][0])
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert abs(float(plain.terms(y[..., 0], y, p)["components"][0]) - expected) > 0.2 * expected
    with pytest.raises(ValueError, match="latitudes"):
        SeparationLoss.from_config(training, 1, "lat_lon")
