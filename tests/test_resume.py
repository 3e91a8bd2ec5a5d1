"""Resuming a training run killed in a separate process (SIGKILL) or stopped by SIGTERM.

Each run is ``python -c`` calling :func:`gravsep.network.training.train` on a tiny dataset. The test
watches the run's ``state/`` folder, kills the process after some completed epochs, reruns it
and compares with an uninterrupted run: same epoch count, same history, identical weights.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from test_training import NETWORK, TRAINING, write_dataset

EPOCHS = 8
CONFIG = TRAINING | {"epochs": EPOCHS, "min_epochs": EPOCHS, "patience": EPOCHS}

SCRIPT = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from gravsep.network.training import train
args = json.loads(sys.argv[1])
result = train(args["dataset"], args["network"], args["training"], threads=2, **args["out"])
with open(args["result"], "w") as f:
    json.dump({k: result[k] for k in ("best_epoch", "stopped_epoch", "epochs_run", "history")}, f)
"""


def _args(dataset, folder):
    folder = Path(folder)
    out = {
        "weights_path": str(folder / "checkpoints" / "best.weights.h5"),
        "model_path": str(folder / "model.keras"),
        "log_path": str(folder / "training_log.h5"),
        "params_path": str(folder / "parameters.yaml"),
    }
    return {
        "dataset": str(dataset),
        "network": NETWORK,
        "training": CONFIG,
        "out": out,
        "result": str(folder / "result.json"),
    }


def _start(args):
    Path(args["result"]).parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(args, proc=None, timeout=600):
    proc = proc or _start(args)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-4000:]
    return json.loads(Path(args["result"]).read_text()), err


def _state_epochs(folder):
    return sorted(int(p.stem.split("-")[1]) for p in (Path(folder) / "state").glob("epoch-*.h5"))


def _interrupt(args, sig, after=2, timeout=600):
    """Start a run, send ``sig`` once ``after`` epochs are complete; (returncode, stderr)."""
    folder = Path(args["result"]).parent
    proc = _start(args)
    t0 = time.monotonic()
    while not any(e >= after for e in _state_epochs(folder)):
        if proc.poll() is not None:
            pytest.fail("the run ended before it could be interrupted:\n" + proc.stderr.read())
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail("no state appeared")
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def _weights(path):
    return keras.models.load_model(path, compile=False).get_weights()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("resume-data") / "samples.h5", dim=32)


@pytest.fixture(scope="module")
def uninterrupted(dataset, tmp_path_factory):
    args = _args(dataset, tmp_path_factory.mktemp("resume") / "reference")
    result, _ = _finish(args)
    assert result["stopped_epoch"] == EPOCHS and result["epochs_run"] == EPOCHS
    return args, result


def _assert_same(reference, args, result, done):
    ref_args, ref = reference
    assert result["stopped_epoch"] == ref["stopped_epoch"] == EPOCHS
    assert result["epochs_run"] == EPOCHS - done
    assert result["best_epoch"] == ref["best_epoch"]
    assert result["history"]["loss"] == ref["history"]["loss"]
    assert result["history"]["val_loss"] == ref["history"]["val_loss"]
    wa = _weights(ref_args["out"]["model_path"])
    wb = _weights(args["out"]["model_path"])
    assert all(np.array_equal(a, b) for a, b in zip(wa, wb, strict=True))
    with h5py.File(args["out"]["log_path"]) as f:
        assert f["loss"].shape == (EPOCHS,)
        assert f.attrs["stopped_epoch"] == EPOCHS
    assert not (Path(args["result"]).parent / "state").exists()


def test_resume_after_sigkill(dataset, uninterrupted, tmp_path):
    args = _args(dataset, tmp_path / "killed")
    rc, _ = _interrupt(args, signal.SIGKILL)
    assert rc == -signal.SIGKILL
    done = _state_epochs(tmp_path / "killed")
    assert len(done) == 1 and 2 <= done[0] < EPOCHS, done
    assert not Path(args["out"]["model_path"]).exists()
    result, err = _finish(args)
    assert f"resuming after epoch {done[0]}" in err
    _assert_same(uninterrupted, args, result, done[0])


def test_sigterm_keeps_state_exits_nonzero_and_resumes(dataset, uninterrupted, tmp_path):
    args = _args(dataset, tmp_path / "terminated")
    rc, err = _interrupt(args, signal.SIGTERM)
    assert rc == 128 + signal.SIGTERM, err[-4000:]
    assert "SIGTERM" in err and "Traceback" not in err
    done = _state_epochs(tmp_path / "terminated")
    assert len(done) == 1 and 2 <= done[0] < EPOCHS, done
    assert f"after {done[0]} completed epoch(s)" in err
    assert not Path(args["out"]["model_path"]).exists()
    assert not Path(args["result"]).exists()
    assert not list((tmp_path / "terminated").rglob(".tmp-*"))
    result, err = _finish(args)
    assert f"resuming after epoch {done[0]}" in err
    _assert_same(uninterrupted, args, result, done[0])
