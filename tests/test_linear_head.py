"""The network's linear head (network.linear_head): the regression baseline inside the model."""

import h5py
import keras
import numpy as np
import pytest
import yaml
from gravsep.config import ConfigError
from gravsep.evaluation import regression
from gravsep.formats.samples import Samples
from gravsep.network import training
from gravsep.network.features import sample_year_fraction, year_ramp
from gravsep.network.inference import predict
from gravsep.network.linear_head import head_weights
from gravsep.network.unet import build_unet
from test_baselines import DIM, subspace_cubes, weighted_basis, write_windows
from test_regression_baseline import add_times, trend_cubes
from test_training import NETWORK, TRAINING, _outputs, write_dataset

HEAD = NETWORK | {"linear_head": True}


def small_dataset(tmp_path):
    basis = weighted_basis(9, seed=2)
    cubes = subspace_cubes([basis[0:3], basis[3:6], basis[6:9]], [2000, 2001, 2002, 2003])
    path = tmp_path / "samples.h5"
    write_windows(path, cubes, train=[2000, 2001])
    with h5py.File(path, "a") as f:
        f.attrs["validation_years"] = [2002]
        f.attrs["test_years"] = [2003]
    return path


def test_head_alone_is_the_regression_baseline(tmp_path):
    """With the U-Net's output layer zeroed, the network is the regression baseline in network
    units: prediction * target scales equals regression() of the same maps; other input
    channels do not reach the head."""
    path = small_dataset(tmp_path)
    stats = regression.regression_statistics(path)
    input_scale, scales = 2.5, np.array([0.5, 1.5, 3.0])
    weights = head_weights(stats, input_scale, scales)
    model = build_unet(DIM, 3, HEAD | {"num_filters_max": 8}, in_channels=2,
                       linear_head=weights)  # fmt: skip
    out = model.get_layer("output")
    out.set_weights([np.zeros_like(w) for w in out.get_weights()])
    assert not model.get_layer("head_project").trainable
    assert model.get_layer("head_project").get_weights()[0].shape == (DIM * DIM, len(weights[1]))
    with Samples(path) as s:
        x = s.input(2003)[()].astype(np.float64)  # (S, lat, lon)
    junk = np.random.default_rng(0).standard_normal(x.shape)
    net_in = np.stack([x / input_scale, junk], axis=-1).astype(np.float32)
    got = model(net_in, training=False).numpy() * scales  # (S, lat, lon, C)
    expected = np.moveaxis(regression.regression(np.moveaxis(x, 0, -1), stats), 0, -1)
    expected = np.moveaxis(expected, -2, 0)  # (S, lat, lon, C)
    assert np.abs(expected).max() > 0.1
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_head_with_the_year_ramp_is_the_regression_with_it(tmp_path):
    """Fitted with the year ramp, the head reads it from its channel (constant over each
    image) and equals regression(..., ramp) of the samples' own ramp; the other channels do
    not reach it."""
    path = tmp_path / "samples.h5"
    write_windows(path, trend_cubes(0.5), train=[2000, 2001])
    with h5py.File(path, "a") as f:
        f.attrs["validation_years"] = [2002]
        f.attrs["test_years"] = [2003]
    add_times(path, [2000, 2001, 2002, 2003])
    stats = regression.regression_statistics(path, ramp=True)
    input_scale, scales = 2.5, np.array([0.5, 1.5, 3.0])
    weights = head_weights(stats, input_scale, scales)
    assert len(weights) == 8
    with pytest.raises(ValueError, match="year ramp"):
        build_unet(DIM, 3, HEAD, in_channels=3, linear_head=weights)
    model = build_unet(DIM, 3, HEAD | {"num_filters_max": 8}, in_channels=3,
                       linear_head=weights, ramp_channel=2)  # fmt: skip
    out = model.get_layer("output")
    out.set_weights([np.zeros_like(w) for w in out.get_weights()])
    with Samples(path) as s:
        x = s.input(2003)[()].astype(np.float64)  # (S, lat, lon)
        ramp = year_ramp(sample_year_fraction(s.time(2003), 2003, len(x)))
    junk = np.random.default_rng(0).standard_normal(x.shape)
    ramp_map = np.broadcast_to(ramp[:, None, None], x.shape)
    net_in = np.stack([x / input_scale, junk, ramp_map], axis=-1).astype(np.float32)
    got = model(net_in, training=False).numpy() * scales
    expected = regression.regression(np.moveaxis(x, 0, -1), stats, ramp=ramp)
    expected = np.moveaxis(np.moveaxis(expected, 0, -1), -2, 0)  # (S, lat, lon, C)
    no_ramp = np.moveaxis(np.moveaxis(regression.regression(
        np.moveaxis(x, 0, -1), stats, ramp=np.zeros_like(ramp) + stats["reg_ramp_mean"]),
        0, -1), -2, 0)  # fmt: skip
    assert np.abs(expected - no_ramp).max() > 0.01 * np.abs(expected).max()  # the ramp matters
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


def test_build_needs_weights_or_rank():
    with pytest.raises(ValueError, match="linear_head"):
        build_unet(8, 2, HEAD)
    model = build_unet(8, 2, HEAD, linear_head=5)  # zeros, e.g. to measure the cost
    assert model.get_layer("head_project").get_weights()[0].shape == (64, 5)


@pytest.mark.parametrize("position", [False, True])
def test_trained_model_keeps_the_fitted_head(tmp_path, position):
    """Training leaves the head as fitted (in the saved model; with position channels with
    the year ramp), and prediction runs it."""
    dataset = write_dataset(tmp_path / "samples.h5")
    with h5py.File(dataset) as f:
        years = [int(y) for y in f["years"]]
    add_times(dataset, years, numt=52)
    folder = tmp_path / "m"
    training.train(dataset, HEAD, TRAINING | {"epochs": 2, "position_channels": position},
                   **_outputs(folder), threads=2)  # fmt: skip
    params = yaml.safe_load((folder / "parameters.yaml").read_text())
    scales = [params["scales"]["targets"][c] for c in params["components"]]
    expected = head_weights(regression.regression_statistics(dataset, ramp=position),
                            params["scales"]["input"], scales)  # fmt: skip
    model = keras.models.load_model(folder / "model.keras", compile=False)
    names = ["head_project", "head_map"] + (["head_ramp_project", "head_ramp_map"] * position)
    got = [w for name in names for w in model.get_layer(name).get_weights()]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)
    predict(folder / "model.keras", dataset, tmp_path / "p.h5", "deterministic")
    with h5py.File(tmp_path / "p.h5") as f:
        assert np.isfinite(f["years/2004/prediction"][()]).all()


def test_refused_on_other_samplings(tmp_path):
    dataset = write_dataset(tmp_path / "samples.h5", sampling="t_lon")
    with pytest.raises(ConfigError, match="network.linear_head needs lat_lon"):
        training.train(dataset, HEAD, TRAINING, **_outputs(tmp_path / "m"), threads=2)
    assert not (tmp_path / "m" / "model.keras").exists()
