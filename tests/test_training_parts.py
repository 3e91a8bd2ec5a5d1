"""Training pieces alone, without model or dataset: options, early stopping, history, hooks."""

import math

import numpy as np
import pytest
from gravsep.config import ConfigError
from gravsep.network.training.monitor import CallbackList, EarlyStopping, History
from gravsep.network.training.options import TrainingOptions
from test_training import NETWORK, TRAINING


class FakeModel:
    def __init__(self):
        self.weights = [np.zeros(2)]

    def get_weights(self):
        return [w.copy() for w in self.weights]


def test_options_fill_schema_defaults_and_record_what_was_given():
    training = {k: v for k, v in TRAINING.items() if k != "augmentation"}
    options = TrainingOptions.from_config(NETWORK, training)
    assert options.training["augmentation"] == {}
    assert options.training["mixed_precision"] == "auto" and options.training["xla"] == "auto"
    assert options.given["training"] == training and "xla" not in options.given["training"]
    assert (options.seed, options.epochs, options.batch_size) == (5, 4, 4)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"early_stopping": "sometimes"}, "training.early_stopping"),
        ({"target_scaling": "log"}, "training.target_scaling"),
        ({"xla": "maybe"}, "training.xla"),
        ({"epochs": 0}, "training.epochs"),
    ],
)
def test_options_name_the_key_of_a_bad_value(change, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        TrainingOptions.from_config(NETWORK, TRAINING | change)


def test_options_name_missing_keys():
    training = {k: v for k, v in TRAINING.items() if k != "patience"}
    with pytest.raises(ConfigError, match="patience"):
        TrainingOptions.from_config(NETWORK, training)


def _run(stopper, values):
    """Feed monitored values through the hooks; the epochs (1-based) that ran."""
    history = History()
    hooks = CallbackList([stopper, history])
    ran = []
    for epoch, value in enumerate(values):
        hooks.on_epoch_begin(epoch)
        logs = {"loss": 1.0, "val_loss": value, "rms_train": np.ones(2),
                "rms_validation": np.ones(2), "rms_test": np.ones(2)}  # fmt: skip
        hooks.on_epoch_end(epoch, logs)
        ran.append(epoch + 1)
        if hooks.stop_training:
            break
    return ran, history.history


def test_early_stopping_tracks_the_best_from_epoch_one_and_waits_for_min_epochs():
    stopper = EarlyStopping("validation_year", min_epochs=4, patience=1, model=FakeModel())
    ran, history = _run(stopper, [1.0, 2.0, 3.0, 4.0, 0.5, 6.0])
    assert ran == [1, 2, 3, 4]  # patience used up at epoch 2, stopping allowed from epoch 4
    assert stopper.best == {"value": 1.0, "epoch": 1, "wait": 3}
    assert stopper.best_weights is not None
    assert history["monitor"] == history["val_loss"] == [1.0, 2.0, 3.0, 4.0]
    assert len(history["epoch_seconds"]) == 4 and history["rms_test"][0] == [1.0, 1.0]


def test_early_stopping_random_sample_watches_one_seeded_sample():
    asked = []

    def sample_loss(i):
        asked.append(i)
        return float(10 - len(asked))

    stopper = EarlyStopping("random_sample", min_epochs=0, patience=5, model=FakeModel(),
                            sample_loss=sample_loss, n_samples=16, seed=5)  # fmt: skip
    _, history = _run(stopper, [math.nan] * 3)
    assert history["monitor"] == [9.0, 8.0, 7.0] and stopper.best["epoch"] == 3
    first = list(asked)
    stopper = EarlyStopping("random_sample", min_epochs=0, patience=5, model=FakeModel(),
                            sample_loss=sample_loss, n_samples=16, seed=5)  # fmt: skip
    _run(stopper, [0.0] * 3)
    assert asked[3:] == first and all(0 <= i < 16 for i in asked)  # same seed, same samples
