"""Configuration errors at workflow level: refused before any job runs, naming the key.

Each case changes the tiny configuration and asks Snakemake for a dry run; it must fail, name
the key (and the offending value where there is one), create no ``results/`` folder and run
no command (a model named ``x;touch PWNED`` is refused by the schema; nothing may create a
``PWNED`` file anywhere in the working folder).
"""

import faultlib as fl
import pytest

pytestmark = [pytest.mark.faults, pytest.mark.workflow]


def _without(cfg, *path):
    node = cfg
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return cfg


def _rename_model(cfg, new):
    cfg["models"] = {new: cfg["models"].pop("tiny")}
    return cfg


# name, config edit (cfg -> cfg), fragments that the error must contain
CASES = [
    ("typo in a top-level section key",
     lambda c: fl.tiny_config(**{"data.nmaxx": 15}), ["nmaxx"]),
    ("typo in a model key",
     lambda c: fl.tiny_config(**{"defaults.network.num_filter_min": 8}), ["num_filter_min"]),
    ("wrong type",
     lambda c: fl.tiny_config(**{"data.nmax": "fifteen"}), ["nmax", "fifteen"]),
    ("wrong type in a list",
     lambda c: fl.tiny_config(**{"data.years": [1995, "1996", 1997]}), ["years", "1996"]),
    ("out-of-range value",
     lambda c: fl.tiny_config(**{"defaults.network.dropout": 1.5}), ["dropout", "1.5"]),
    ("deltat not a multiple of 6 hours",
     lambda c: fl.tiny_config(**{"preprocess.deltat": 100}), ["deltat", "100"]),
    ("a year outside the data",
     lambda c: fl.tiny_config(**{"defaults.dataset.validation_years": [1990]}),
     ["validation_years", "1990"]),
    ("a component absent from the data",
     lambda c: fl.tiny_config(**{"data.letters": ["A", "O", "H", "I"]}),
     ["preprocess.components", "S"]),
    ("an unknown component letter",
     lambda c: fl.tiny_config(**{"preprocess.components": ["AO", "H", "I", "X"]}),
     ["components", "X"]),
    ("a required key missing",
     lambda c: _without(fl.tiny_config(), "defaults", "training", "epochs"), ["epochs"]),
    ("shell metacharacters in a model name",
     lambda c: _rename_model(fl.tiny_config(), "x;touch PWNED"), ["x;touch PWNED"]),
    ("command substitution in a model name",
     lambda c: _rename_model(fl.tiny_config(), "$(touch PWNED)"), ["$(touch PWNED)"]),
    ("a year written as a float",
     lambda c: fl.tiny_config(**{"data.years": [1995.0, 1996, 1997]}),
     ["data.years.0", "1995.0", "integer"]),
    ("deltat written as a float",
     lambda c: fl.tiny_config(**{"preprocess.deltat": 168.0}), ["preprocess.deltat", "integer"]),
    ("deltat that leaves a year without a window",
     lambda c: fl.tiny_config(**{"preprocess.deltat": 6 * 1500}),
     ["preprocess.deltat", "without a window"]),
]  # fmt: skip


@pytest.mark.parametrize("name, edit, fragments", CASES, ids=[c[0] for c in CASES])
def test_config_error_is_refused_and_named(tmp_path, name, edit, fragments):
    with fl.fault(f"config: {name}"):
        path = fl.write_config(tmp_path, "bad.yaml", edit(None))
        result = fl.run(tmp_path, "-n", configfile=path)
        assert result.returncode != 0, f"accepted:\n{result.stdout[-2000:]}"
        text = result.stderr + result.stdout
        for fragment in fragments:
            assert fragment in text, f"{fragment!r} not in the error:\n{result.stderr[-3000:]}"
        assert not (tmp_path / "results").exists(), "results/ was created"
        assert not fl.files_named(tmp_path, "PWNED"), "a command ran"
        assert not (fl.REPO / "PWNED").exists(), "a command ran"


def test_missing_local_archive_is_named(tmp_path):
    """``source: local`` with the archive absent: the missing file is named before any job."""
    with fl.fault("config: local archive absent"):
        cfg = fl.tiny_config(**{"source": "local", "data.archive_dir": str(tmp_path / "none")})
        path = fl.write_config(tmp_path, "local.yaml", cfg)
        result = fl.run(tmp_path, "-n", "results/ingest/store/A_1995.h5", configfile=path)
        assert result.returncode != 0
        text = result.stdout + result.stderr
        assert "Missing input files" in text, text[-3000:]
        assert str(tmp_path / "none" / "mtm_1995_A.tar.gz") in text, text[-3000:]
        assert not (tmp_path / "results").exists()
