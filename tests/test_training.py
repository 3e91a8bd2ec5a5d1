"""Short training and prediction runs on tiny synthetic datasets."""

from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import yaml
from gravsep.network import training as tr
from gravsep.network.inference import predict
from gravsep.network.training.state import load_state
from gravsep.network.unet import build_unet

COMPONENTS = ["AO", "S"]
YEARS = {"train_years": [2001, 2002], "validation_years": [2003], "test_years": [2004]}
NETWORK = {
    "num_filters_min": 4,
    "num_filters_max": 16,
    "filter_size": 4,
    "dropout": 0.5,
    "dropout_blocks": 2,
}
TRAINING = {
    "seed": 5,
    "epochs": 4,
    "min_epochs": 2,
    "patience": 10,
    "batch_size": 4,
    "learning_rate": 3e-3,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "loss_type": "signal_weighted_MSE",
    "component_weights": [1, 1],
    "sum_weight": 0.5,
    "slope_weight": 0,
    "shape_weight": 0,
    "target_scaling": "max_abs",
    "early_stopping": "validation_year",
    "inference_mode": "deterministic",
    "augmentation": {"S": {"contrast": [0.5, 2.0], "flip_lr": True}},
}


def write_dataset(path, dim=16, n_samples=16, sampling="lat_lon", seed=0):
    """A small dataset file in the layout of the dataset stage (smooth random fields, metres)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.meshgrid(np.linspace(0, 1, dim), np.linspace(0, 1, dim), indexing="ij")
    amplitude = [0.05, 0.002]  # AO in cm, S in mm, as in the real data
    with h5py.File(path, "w") as f:
        f.attrs["components"] = COMPONENTS
        f.attrs["sampling"] = sampling
        f.attrs["dim"] = dim
        for key, years in YEARS.items():
            f.attrs[key] = years
        f["lat"] = 90 - 180 / dim * np.arange(dim)
        f["lon"] = 360 / dim * np.arange(dim)
        for year in sum(YEARS.values(), []):
            target = np.empty((n_samples, dim, dim, len(COMPONENTS)), np.float32)
            for c, amp in enumerate(amplitude):
                k = rng.integers(1, 3, size=(n_samples, 1, 1))
                phase = rng.uniform(0, 2 * np.pi, size=(n_samples, 1, 1))
                wave = rows if c == 0 else cols
                target[..., c] = amp * np.sin(2 * np.pi * k * wave + phase)
            g = f.create_group(f"years/{year}")
            g["input"] = target.sum(-1)
            g["target"] = target
            g.attrs["numt"] = 52
    return Path(path)


def _outputs(folder):
    folder = Path(folder)
    return {
        "weights_path": folder / "checkpoints" / "best.weights.h5",
        "model_path": folder / "model.keras",
        "log_path": folder / "training_log.h5",
        "params_path": folder / "parameters.yaml",
    }


def _run(dataset, folder, training=TRAINING, **kw):
    return tr.train(dataset, NETWORK, training, **_outputs(folder), threads=2, **kw)


def _weights(path):
    return keras.models.load_model(path, compile=False).get_weights()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "samples.h5")


@pytest.fixture(scope="module")
def run_a(dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "a"
    return folder, _run(dataset, folder)


def test_outputs_well_formed(run_a, dataset):
    folder, result = run_a
    out = _outputs(folder)
    assert all(p.is_file() for p in out.values())
    assert not list(folder.rglob(".tmp-*")), "temporary files left behind"
    assert not (folder / "state").exists()
    assert result["stopped_epoch"] == 4 and 1 <= result["best_epoch"] <= 4

    with h5py.File(out["log_path"]) as f:
        assert f["loss"].shape == f["val_loss"].shape == (4,)
        for split in ("train", "validation", "test"):
            rms = f[f"rms_{split}"][()]
            assert rms.shape == (4, 2) and np.all(np.isfinite(rms)) and np.all(rms > 0)
        assert f.attrs["best_epoch"] == result["best_epoch"]
        assert f.attrs["stopped_epoch"] == 4
        assert list(f.attrs["components"]) == COMPONENTS
        best = f.attrs["best_epoch"]
        assert f["val_loss"][best - 1] == f["val_loss"][()].min()
        # RMS in metres: the S errors are of the order of S (mm), not of AO (cm).
        assert np.all(f["rms_validation"][:, 1] < 0.01)

    params = yaml.safe_load(out["params_path"].read_text())
    assert params["components"] == COMPONENTS and params["sampling"] == "lat_lon"
    assert params["network"] == NETWORK and params["training"] == TRAINING
    assert params["seed"] == 5 and params["model"] == "a"
    assert params["dataset"] == str(dataset)
    assert set(params["scales"]["targets"]) == set(COMPONENTS)
    assert 0.0015 < params["scales"]["targets"]["S"] <= 0.002
    assert params["scales"]["input"] > 0
    assert "tensorflow" in params["versions"] or "tensorflow-cpu" in params["versions"]

    # The saved model carries the best weights, the same as the checkpoint.
    model = build_unet(16, 2, NETWORK)
    model.load_weights(out["weights_path"])
    saved = _weights(out["model_path"])
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), saved, strict=True))


def test_loss_decreases(run_a):
    history = run_a[1]["history"]
    assert history["loss"][-1] < history["loss"][0]
    assert min(history["val_loss"]) < history["val_loss"][0]


def test_same_seed_same_weights(run_a, dataset, tmp_path):
    folder_a, result_a = run_a
    result_b = _run(dataset, tmp_path / "b")
    wa, wb = _weights(folder_a / "model.keras"), _weights(tmp_path / "b" / "model.keras")
    assert all(np.array_equal(a, b) for a, b in zip(wa, wb, strict=True))
    assert result_a["history"]["loss"] == result_b["history"]["loss"]


def test_resume_gives_the_uninterrupted_result(run_a, dataset, tmp_path):
    folder = tmp_path / "c"
    assert _run(dataset, folder, stop_after=2) is None  # as if killed after epoch 2
    assert not (folder / "model.keras").exists()
    states = list((folder / "state").glob("epoch-*.h5"))
    assert [p.name for p in states] == ["epoch-00002.h5"]
    assert load_state(folder / "state", "another configuration") is None
    result = _run(dataset, folder)
    assert result["epochs_run"] == 2 and result["stopped_epoch"] == 4
    assert result["history"]["loss"] == run_a[1]["history"]["loss"]
    wa, wc = _weights(run_a[0] / "model.keras"), _weights(folder / "model.keras")
    assert all(np.array_equal(a, c) for a, c in zip(wa, wc, strict=True))


def test_early_stopping_and_time_axis_options(tmp_path):
    # t_lon sampling with slope and shape terms, raw metres, one random validation sample.
    dataset = write_dataset(tmp_path / "tlon.h5", sampling="t_lon", n_samples=8)
    training = TRAINING | {
        "epochs": 6,
        "min_epochs": 2,
        "patience": 0,
        "slope_weight": 1.0,
        "shape_weight": [0, 1.0],
        "target_scaling": "none",
        "early_stopping": "random_sample",
        "augmentation": {"AO": {"grow": 2, "sign_flip": True, "offset": 0.01}},
    }
    result = _run(dataset, tmp_path / "m", training=training)
    assert result["stopped_epoch"] == 2  # patience 0: stop as soon as min_epochs allows
    with h5py.File(tmp_path / "m" / "training_log.h5") as f:
        assert f["monitor"].shape == (2,)
    params = yaml.safe_load((tmp_path / "m" / "parameters.yaml").read_text())
    assert params["scales"]["input"] == 1.0
    with pytest.raises(ValueError, match="time axis"):
        _run(write_dataset(tmp_path / "ll.h5", n_samples=4), tmp_path / "n", training=training)


def test_bad_configuration(dataset, tmp_path):
    with pytest.raises(ValueError, match="component_weights"):
        _run(dataset, tmp_path / "x", training=TRAINING | {"component_weights": [1, 1, 1]})
    with pytest.raises(ValueError, match="unknown component"):
        _run(dataset, tmp_path / "x", training=TRAINING | {"augmentation": {"H": {}}})


def test_predictions(run_a, dataset, tmp_path):
    folder = run_a[0]
    out1, out2 = tmp_path / "p1.h5", tmp_path / "p2.h5"
    predict(folder / "model.keras", dataset, out1, "deterministic", batch_size=8)
    predict(folder / "model.keras", dataset, out2, "deterministic", batch_size=3)
    params = yaml.safe_load((folder / "parameters.yaml").read_text())
    scales = np.array([params["scales"]["targets"][c] for c in COMPONENTS], np.float32)
    model = keras.models.load_model(folder / "model.keras", compile=False)
    with h5py.File(out1) as f1, h5py.File(out2) as f2, h5py.File(dataset) as d:
        assert list(f1.attrs["components"]) == COMPONENTS
        assert f1.attrs["sampling"] == "lat_lon" and f1.attrs["model"] == "a"
        assert sorted(f1["years"]) == sorted(d["years"])
        for year in d["years"]:
            p1 = f1[f"years/{year}/prediction"][()]
            assert p1.shape == (16, 16, 16, 2) and p1.dtype == np.float32
            np.testing.assert_allclose(p1, f2[f"years/{year}/prediction"][()], atol=1e-7)
            x = d[f"years/{year}/input"][()] / params["scales"]["input"]
            direct = model(x[..., None].astype(np.float32), training=False).numpy() * scales
            np.testing.assert_allclose(p1, direct, rtol=1e-5, atol=1e-8)
        assert f1["years/2001"].attrs["numt"] == 52
    # Same call, same bytes of prediction.
    predict(folder / "model.keras", dataset, out2, "deterministic", batch_size=8)
    with h5py.File(out1) as f1, h5py.File(out2) as f2:
        assert np.array_equal(f1["years/2004/prediction"][()], f2["years/2004/prediction"][()])
    # The reference's mode: dropout on and batch statistics; seeded, so reproducible.
    out3, out4 = tmp_path / "p3.h5", tmp_path / "p4.h5"
    predict(folder / "model.keras", dataset, out3, "training", batch_size=1, seed=2)
    predict(folder / "model.keras", dataset, out4, "training", batch_size=1, seed=2)
    with h5py.File(out1) as f1, h5py.File(out3) as f3, h5py.File(out4) as f4:
        p1, p3 = f1["years/2004/prediction"][()], f3["years/2004/prediction"][()]
        assert f3.attrs["inference_mode"] == "training"
        assert not np.allclose(p1, p3)
        np.testing.assert_allclose(p3, f4["years/2004/prediction"][()], atol=1e-7)
    with pytest.raises(ValueError, match="inference_mode"):
        predict(folder / "model.keras", dataset, tmp_path / "p5.h5", "ensemble")
    assert not (tmp_path / "p5.h5").exists()


def test_snakemake_scripts(dataset, tmp_path, monkeypatch):
    import runpy
    import sys
    from types import SimpleNamespace

    monkeypatch.setattr(sys, "stderr", sys.stderr)  # runlog.setup redirects it
    scripts = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
    out = _outputs(tmp_path / "models" / "s")
    rule = SimpleNamespace(
        input=SimpleNamespace(dataset=str(dataset)),
        output=SimpleNamespace(
            weights=str(out["weights_path"]),
            model=str(out["model_path"]),
            log_h5=str(out["log_path"]),
            params=str(out["params_path"]),
        ),
        params=SimpleNamespace(network=NETWORK, training=TRAINING | {"epochs": 1}, model="s"),
        log=[str(tmp_path / "train.log")],
        threads=2,
    )
    runpy.run_path(str(scripts / "train.py"), init_globals={"snakemake": rule})
    assert all(p.is_file() for p in out.values())
    assert "epoch 1/1" in (tmp_path / "train.log").read_text()
    rule = SimpleNamespace(
        input=SimpleNamespace(
            model=str(out["model_path"]), parameters=str(out["params_path"]), dataset=str(dataset)
        ),
        output=[str(tmp_path / "models" / "s" / "predictions.h5")],
        params=SimpleNamespace(inference_mode="deterministic", batch_size=8, ensemble={}),
        log=[str(tmp_path / "predict.log")],
        threads=2,
    )
    runpy.run_path(str(scripts / "predict.py"), init_globals={"snakemake": rule})
    with h5py.File(rule.output[0]) as f:
        assert f.attrs["model"] == "s"
        assert f["years/2003/prediction"].shape == (16, 16, 16, 2)


# --------------------------------------------------------------------------- more options


def test_early_stopping_modes_watch_what_they_say(run_a, dataset, tmp_path):
    # validation_year: the monitored value is the loss over the whole validation year.
    with h5py.File(run_a[0] / "training_log.h5") as f:
        assert f.attrs["early_stopping"] == "validation_year"
        np.testing.assert_array_equal(f["monitor"][()], f["val_loss"][()])
    # random_sample: the loss of one validation sample, not the year's mean; the best epoch
    # follows that value.
    training = TRAINING | {"early_stopping": "random_sample", "epochs": 3, "min_epochs": 3}
    result = _run(dataset, tmp_path / "r", training=training)
    with h5py.File(tmp_path / "r" / "training_log.h5") as f:
        assert f.attrs["early_stopping"] == "random_sample"
        monitor, val = f["monitor"][()], f["val_loss"][()]
        assert not np.allclose(monitor, val)
        assert result["best_epoch"] == int(np.argmin(monitor)) + 1


def test_sample_source_streams_by_chunks_like_memory(dataset):
    years = YEARS["train_years"] + YEARS["test_years"]
    mem = tr.SampleSource(dataset, years, in_memory=True)
    disk = tr.SampleSource(dataset, years, in_memory=False, chunk=5)
    assert disk.x is None and mem.n == disk.n == 48
    assert [c[2:] for c in disk.chunk_list()[:4]] == [(0, 5), (5, 10), (10, 15), (15, 16)]
    xs, ys, ws = zip(*disk.batches(7), strict=True)
    np.testing.assert_array_equal(np.concatenate(xs), mem.x[..., None])  # one channel
    np.testing.assert_array_equal(np.concatenate(ys), mem.y)
    np.testing.assert_array_equal(np.concatenate(ws), np.ones(48, np.float32))
    for i in (0, 15, 16, 47):
        np.testing.assert_array_equal(disk.sample(i)[0], mem.x[i : i + 1, ..., None])
        np.testing.assert_array_equal(disk.sample(i)[1], mem.y[i : i + 1])
    for mode in ("max_abs", "none"):
        a, b = mem.scales(mode, 2), disk.scales(mode, 2)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1]
        c = tr.compute_scales(mem.x, mem.y, mode)
        np.testing.assert_array_equal(a[0], c[0])


def test_streamed_training(dataset, tmp_path):
    # Above the memory limit the samples are streamed from the file by chunks.
    def run(name):
        folder = tmp_path / name
        return _run(dataset, folder, in_memory_limit=0), folder

    result, folder = run("s1")
    params = yaml.safe_load((folder / "parameters.yaml").read_text())
    assert params["execution"]["in_memory"] is False
    assert result["stopped_epoch"] == 4
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    again, folder2 = run("s2")
    assert again["history"]["loss"] == result["history"]["loss"]  # seeded shuffle
    wa, wb = _weights(folder / "model.keras"), _weights(folder2 / "model.keras")
    assert all(np.array_equal(a, b) for a, b in zip(wa, wb, strict=True))


def test_streamed_pipeline_visits_every_sample_once_per_epoch(dataset):
    from gravsep.network.training import Trainer

    training = TRAINING | {"augmentation": {}, "batch_size": 3, "target_scaling": "none"}
    mem = Trainer(dataset, NETWORK, training, in_memory_limit=None)
    disk = Trainer(dataset, NETWORK, training, in_memory_limit=0, chunk=5)
    assert mem.in_memory and not disk.in_memory
    reference = np.sort(mem.sources["train"].x.reshape(32, -1).sum(1))
    orders = []
    for trainer in (mem, disk):
        for epoch in (0, 1):
            batches = trainer.epochs_dataset(epoch, epoch + 1)
            xs = np.concatenate([x.numpy() for x, _, _ in batches])
            np.testing.assert_allclose(np.sort(xs.reshape(32, -1).sum(1)), reference, rtol=1e-6)
            orders.append(xs.reshape(32, -1).sum(1))
    assert not np.array_equal(orders[0], orders[1])  # reshuffled per epoch
    assert not np.array_equal(orders[2], orders[3])
    again = np.concatenate([x.numpy() for x, _, _ in disk.epochs_dataset(1, 2)])
    again = again.reshape(32, -1).sum(1)
    np.testing.assert_array_equal(again, orders[3])  # same seed and epoch, same order


def test_tensorboard_event_files(dataset, tmp_path):
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    board = tmp_path / "tb"
    training = TRAINING | {"epochs": 3}
    assert (
        _run(dataset, tmp_path / "m", training=training, stop_after=2, tensorboard_dir=board)
        is None
    )
    _run(dataset, tmp_path / "m", training=training, tensorboard_dir=board)  # resumed
    files = list(board.glob("events.out.tfevents.*"))
    assert files
    seen = {}
    for path in files:
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                seen.setdefault(value.tag, set()).add(event.step)
                assert value.metadata.plugin_data.plugin_name == "scalars"
                assert tf.make_ndarray(value.tensor).shape == ()
    for tag in ("loss/train", "loss/validation", "loss/monitor", "rms_validation/S",
                "rms_train/AO", "rms_test/S", "time/epoch_seconds"):  # fmt: skip
        assert seen.get(tag) == {1, 2, 3}, (tag, seen.get(tag))


def test_mixed_precision_and_xla_switches(dataset, tmp_path):
    import tensorflow as tf

    gpu = bool(tf.config.list_physical_devices("GPU"))
    assert tr.resolve_switch("auto", "xla") is gpu
    assert tr.resolve_switch("on", "xla") is True and tr.resolve_switch("off", "xla") is False
    with pytest.raises(ValueError, match="training.xla"):
        tr.resolve_switch("maybe", "xla")
    training = TRAINING | {"epochs": 2, "mixed_precision": "on", "xla": "on"}
    result = _run(dataset, tmp_path / "fast", training=training)
    assert np.all(np.isfinite(result["history"]["loss"]))
    params = yaml.safe_load((tmp_path / "fast" / "parameters.yaml").read_text())
    assert params["execution"]["mixed_precision"] is True and params["execution"]["xla"] is True
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    model = keras.models.load_model(tmp_path / "fast" / "model.keras", compile=False)
    assert model.get_layer("enc2_conv").compute_dtype == "float16"
    assert model.get_layer("output").compute_dtype == "float32"


MIRRORED = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from gravsep.network.training import train
args = json.loads(sys.argv[1])
result = train(args["dataset"], args["network"], args["training"], threads=2,
               devices=["/cpu:0", "/cpu:1"], **args["out"])
print("RESULT", json.dumps(result["history"]["loss"]))
"""


def test_mirrored_strategy_on_two_logical_cpus(dataset, tmp_path):
    import json
    import subprocess
    import sys

    out = {k: str(v) for k, v in _outputs(tmp_path / "mirrored").items()}
    args = {"dataset": str(dataset), "network": NETWORK, "training": TRAINING | {"epochs": 2},
            "out": out}  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED, json.dumps(args)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    losses = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert len(losses) == 2 and all(np.isfinite(losses))
    params = yaml.safe_load(Path(out["params_path"]).read_text())
    assert params["execution"]["replicas"] == 2
    assert Path(out["model_path"]).is_file()


def test_a_split_without_years_gives_nan_in_memory_and_streamed(tmp_path):
    dataset = write_dataset(tmp_path / "no-test.h5", n_samples=4)
    with h5py.File(dataset, "a") as f:
        f.attrs["test_years"] = np.zeros(0, np.int64)
    for limit in (None, 0):
        folder = tmp_path / f"m{limit}"
        _run(dataset, folder, training=TRAINING | {"epochs": 1}, in_memory_limit=limit)
        with h5py.File(folder / "training_log.h5") as f:
            assert np.all(np.isnan(f["rms_test"][()])) and f["rms_test"].shape == (1, 2)
            assert np.all(np.isfinite(f["rms_validation"][()]))


def test_curve_every_skips_the_training_and_test_evaluations(dataset, tmp_path):
    """training.curve_every 2: training and test RMS on epochs 1 and 2 (the first, then every
    second), NaN on epoch 3; validation (early stopping's) every epoch; the same training
    otherwise, and the training-curve figure draws the points there are."""
    from gravsep.evaluation.figures import training_curves

    logs = {}
    for every in (1, 2):
        folder = tmp_path / f"every{every}"
        _run(dataset, folder, training=TRAINING | {"epochs": 3, "min_epochs": 3,
                                                   "curve_every": every})  # fmt: skip
        with h5py.File(folder / "training_log.h5") as f:
            logs[every] = {k: f[k][()] for k in ("loss", "rms_train", "rms_test",
                                                 "rms_validation")}  # fmt: skip
    sparse, full = logs[2], logs[1]
    for key in ("rms_train", "rms_test"):
        assert np.isfinite(sparse[key][:2]).all() and np.isnan(sparse[key][2]).all(), key
        np.testing.assert_array_equal(sparse[key][:2], full[key][:2])
    np.testing.assert_array_equal(sparse["rms_validation"], full["rms_validation"])
    np.testing.assert_array_equal(sparse["loss"], full["loss"])
    training_curves(tmp_path / "every2" / "training_log.h5", tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 10_000
