"""Schema validation and cross-key checks of the configuration (gravsep.config)."""

import copy
from pathlib import Path

import pytest
import yaml
from gravsep.config import (
    SCHEMA,
    ConfigError,
    check,
    dataset_id,
    deep_merge,
    resolve_models,
    section_options,
    validate,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "config.yaml"


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(CONFIG.read_text())


@pytest.fixture
def config(raw):
    """The shipped configuration, validated (defaults set)."""
    cfg = copy.deepcopy(raw)
    validate(cfg)
    return cfg


def validate_error(cfg):
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    return str(err.value)


# ---------------------------------------------------------------- schema


def test_shipped_config_validates_and_gets_defaults(raw, config):
    assert config["ftp"]["host"] == "ig2-dmz.gfz-potsdam.de"
    assert config["ftp"]["port"] == 21 and config["ftp"]["retries"] == 5
    assert config["containers"]["cpu"].startswith("docker://")
    assert config["data"]["archive_dir"] == raw["data"]["archive_dir"]
    # what the file sets is kept
    assert config["data"] == {**config["data"], **raw["data"]}
    assert config["preprocess"] == raw["preprocess"]
    # a minimal file gets every default
    minimal = {k: copy.deepcopy(raw[k]) for k in ("data", "defaults", "models")}
    del minimal["data"]["letters"], minimal["data"]["archive_dir"]
    validate(minimal)
    assert minimal["source"] == "synthetic"
    assert minimal["data"]["letters"] == ["A", "O", "H", "I", "S"]
    assert minimal["data"]["archive_dir"] == "resources/esm"
    assert minimal["preprocess"] == {
        "components": ["AO", "H", "I", "S"], "deltat": 168, "remove_yearly_mean": True,
    }  # fmt: skip
    check(minimal)


@pytest.mark.parametrize(
    "edit, names",
    [
        (lambda c: c["data"].update(yeras=[1995]), ["yeras"]),
        (lambda c: c.update(preproces={}), ["preproces"]),
        (lambda c: c["defaults"]["training"].update(learnig_rate=1), ["learnig_rate"]),
        (lambda c: c["data"].update(nmax="31"), ["nmax", "integer"]),
        (lambda c: c["data"].update(years=1995), ["years", "array"]),
        (lambda c: c["preprocess"].update(remove_yearly_mean="yes"), ["remove_yearly_mean"]),
        (lambda c: c["data"].update(nmax=500), ["nmax", "200"]),
        (lambda c: c["preprocess"].update(deltat=7), ["deltat", "multiple"]),
        (lambda c: c["preprocess"].update(components=["AX"]), ["components"]),
        (lambda c: c["data"].update(letters=["A", "Q"]), ["letters"]),
        (lambda c: c["models"].update(x={"network": {"dropout": 1.0}}), ["models.x.network"]),
        (lambda c: c["defaults"]["dataset"].update(sampling="lat_lat"), ["sampling"]),
        (lambda c: c["defaults"]["dataset"].update(storage_dtype="float16"), ["storage_dtype"]),
        (lambda c: c["ftp"].update(port=0), ["port"]),
        (lambda c: c["models"].update({"bad-name": {}}), ["bad-name"]),
        (lambda c: c.update(source="usb"), ["source"]),
    ],
)
def test_schema_errors_name_the_key(raw, edit, names):
    cfg = copy.deepcopy(raw)
    cfg.setdefault("ftp", {})
    edit(cfg)
    msg = validate_error(cfg)
    for name in names:
        assert name in msg, (name, msg)


def test_defaults_reach_models_that_override_the_section(raw):
    """A model that overrides part of a section keeps the other keys of `defaults`, optional
    ones included (the schema must not fill its own defaults into the model's section)."""
    cfg = copy.deepcopy(raw)
    cfg["defaults"]["dataset"]["storage_dtype"] = "float64"
    cfg["defaults"]["training"]["mixed_precision"] = "on"
    cfg["defaults"]["training"]["xla"] = "off"
    cfg["models"] = {"a": {"dataset": {"sampling": "t_lon"}, "training": {"epochs": 99}}, "b": {}}
    cfg.pop("apply")  # it applies the shipped `monthly` model, replaced here
    validate(cfg)
    models = check(cfg)
    for name in ("a", "b"):
        assert models[name]["dataset"]["storage_dtype"] == "float64"
        assert models[name]["training"]["mixed_precision"] == "on"
        assert models[name]["training"]["xla"] == "off"
    assert models["a"]["training"]["epochs"] == 99


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: c["data"].update(years=[1995.0, 1996]), "data.years.0"),
        (lambda c: c["preprocess"].update(deltat=168.0), "preprocess.deltat"),
        (lambda c: c["defaults"]["training"].update(epochs=3.0), "defaults.training.epochs"),
        (lambda c: c["data"].update(nmax=True), "data.nmax"),
    ],
)
def test_schema_refuses_floats_where_integers_belong(raw, edit, key):
    """JSON Schema counts 2001.0 as an integer; the workflow would fail later, far from the key."""
    cfg = copy.deepcopy(raw)
    edit(cfg)
    msg = validate_error(cfg)
    assert key in msg and "integer" in msg, msg


def test_deltat_that_leaves_a_year_without_a_window(config):
    config["data"]["years"] = [1995, 1996]
    config["preprocess"]["deltat"] = 6 * 1500  # 375 days: 1996 gets no window that starts in it
    msg = check_error(config, "preprocess.deltat")
    assert "1996" in msg
    config["preprocess"]["deltat"] = 8760  # 365 days: one window in each of 1995 and 1996
    config["apply"] = {}  # it applies the shipped `monthly` model, replaced here
    config["models"] = {"m": {"dataset": {"train_years": [1995], "validation_years": [1996],
                                          "test_years": [1996]}}}  # fmt: skip
    check(config)


def test_schema_requires_data(raw):
    cfg = copy.deepcopy(raw)
    del cfg["data"]["nmax"]
    assert "nmax" in validate_error(cfg)


# ---------------------------------------------------------------- cross-key checks


def test_check_passes_and_resolves(config):
    models = check(config)
    assert set(models) == {"latlon", "tlon", "hybrid", "noisy", "monthly", "ensemble"}
    assert models["ensemble"]["training"]["ensemble"]["members"] == 5
    assert models["ensemble"]["dataset"] == models["latlon"]["dataset"]  # one dataset
    assert models["monthly"]["dataset"]["deltat"] == "month"
    assert models["tlon"]["dataset"]["sampling"] == "t_lon"
    assert models["latlon"]["dataset"]["sampling"] == "lat_lon"
    assert models["tlon"]["training"] == models["latlon"]["training"]
    assert models["latlon"]["training"]["augmentation"] == {"S": {"contrast": [0.5, 2.0]}}
    assert models["latlon"]["dataset"]["storage_dtype"] == "float32"
    without = copy.deepcopy(config)
    del without["defaults"]["dataset"]["storage_dtype"]  # optional: float32
    assert check(without)["tlon"]["dataset"]["storage_dtype"] == "float32"
    # resolving leaves the configuration as it was
    before = copy.deepcopy(config)
    resolve_models(config)
    assert config == before


def check_error(config, key_fragment):
    with pytest.raises(ConfigError) as err:
        check(config)
    assert key_fragment in str(err.value), str(err.value)
    return str(err.value)


def test_year_outside_data(config):
    config["models"]["latlon"] = {"dataset": {"test_years": [2001]}}
    msg = check_error(config, "models.latlon.dataset.test_years")
    assert "2001" in msg
    config["models"]["latlon"] = {}
    config["defaults"]["dataset"]["validation_years"] = [1994]
    check_error(config, "models.latlon.dataset.validation_years")


def test_train_test_overlap(config):
    config["models"]["tlon"]["dataset"]["test_years"] = [1996]
    check_error(config, "models.tlon.dataset.test_years")


def test_component_letter_absent(config):
    config["data"]["letters"] = ["A", "O", "H", "I"]
    msg = check_error(config, "preprocess.components[3]")
    assert "'S'" in msg
    config["data"]["letters"] = ["A", "O", "H", "I", "S"]
    config["preprocess"]["components"] = ["AO", "H", "IS", "S"]
    check_error(config, "preprocess.components")
    config["preprocess"]["components"] = ["AA", "H"]
    check_error(config, "preprocess.components[0]")


def test_slope_or_shape_weight_with_lat_lon(config):
    config["models"]["latlon"] = {"training": {"slope_weight": 0.1}}
    check_error(config, "models.latlon.training.slope_weight")
    config["models"]["latlon"] = {"training": {"shape_weight": 0.1}}
    check_error(config, "models.latlon.training.")
    # fine for a model with a time axis
    config["models"]["latlon"] = {}
    config["models"]["tlon"]["training"] = {"slope_weight": 0.1, "shape_weight": 0.2}
    check(config)


def test_component_weights_length(config):
    config["models"]["tlon"]["training"] = {"component_weights": [1, 1, 1]}
    msg = check_error(config, "models.tlon.training.component_weights")
    assert "3" in msg and "4" in msg
    config["models"]["tlon"]["training"] = {"component_weights": [0, 0, 0, 0]}
    check_error(config, "models.tlon.training.component_weights")


def test_augmentation_unknown_component(config):
    config["models"]["latlon"] = {"training": {"augmentation": {"HI": {"flip_lr": True}}}}
    msg = check_error(config, "models.latlon.training.augmentation")
    assert "HI" in msg


def test_min_epochs_exceeds_epochs(config):
    config["defaults"]["training"]["min_epochs"] = 61
    check_error(config, "models.latlon.training.min_epochs")


def test_other_cross_checks(config):
    cfg = copy.deepcopy(config)
    cfg["models"]["latlon"] = {"dataset": {"nmax_flt": 32}}
    check_error(cfg, "models.latlon.dataset.nmax_flt")
    cfg = copy.deepcopy(config)
    cfg["models"]["latlon"] = {"network": {"num_filters_min": 256}}
    check_error(cfg, "models.latlon.network.num_filters_min")
    cfg = copy.deepcopy(config)
    cfg["models"]["latlon"] = {"dataset": {"extent": {"type": "regional", "lat": [0, 10]}}}
    check_error(cfg, "models.latlon.dataset.extent")
    cfg = copy.deepcopy(config)
    cfg["data"]["nmax"] = 150
    check_error(cfg, "data.nmax")
    cfg = copy.deepcopy(config)
    del cfg["defaults"]["training"]["patience"]
    check_error(cfg, "models.latlon.training.patience")


# ---------------------------------------------------------------- helpers


def test_deep_merge():
    base = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "f": 2}
    over = {"a": {"c": [3], "d": {"g": 2}}, "h": {"i": 1}}
    frozen_base, frozen_over = copy.deepcopy(base), copy.deepcopy(over)
    out = deep_merge(base, over)
    assert out == {"a": {"b": 1, "c": [3], "d": {"e": 1, "g": 2}}, "f": 2, "h": {"i": 1}}
    assert base == frozen_base and over == frozen_over
    out["a"]["d"]["e"] = 99
    out["h"]["i"] = 99
    assert base == frozen_base and over == frozen_over  # no shared sub-objects
    assert deep_merge(base, None) == base and deep_merge(base, {}) is not base
    assert deep_merge({"a": {"b": 1}}, {"a": 5}) == {"a": 5}
    assert deep_merge({"a": 5}, {"a": {"b": 1}}) == {"a": {"b": 1}}


def test_dataset_id(config):
    models = check(config)
    comps = config["preprocess"]["components"]
    ds = models["latlon"]["dataset"]
    same = yaml.safe_load(yaml.safe_dump(ds))  # an equal definition built independently
    same = dict(reversed(list(same.items())))  # key order must not matter
    assert dataset_id(ds, comps) == dataset_id(same, list(comps))
    assert dataset_id(ds, comps).startswith("lat_lon-")
    ids = {dataset_id(ds, comps)}
    for key, value in [("nmax_flt", 12), ("random_samples", True), ("test_years", [1997]),
                       ("extent", {"type": "regional", "lat": [0, 1], "lon": [0, 1]}),
                       ("sampling", "t_lon"), ("storage_dtype", "float64")]:  # fmt: skip
        changed = copy.deepcopy(ds)
        changed[key] = value
        ids.add(dataset_id(changed, comps))
    ids.add(dataset_id(ds, ["AO", "H", "IS"]))
    ids.add(dataset_id(ds, list(reversed(comps))))
    assert len(ids) == 9
    assert dataset_id(models["tlon"]["dataset"], comps) != dataset_id(ds, comps)


# ---------------------------------------------------------------- one source of defaults


def test_schema_is_packaged_and_reached_from_the_workflow():
    conventional = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    assert conventional.resolve() == Path(str(SCHEMA)).resolve()
    assert yaml.safe_load(conventional.read_text())["definitions"]["training"]


def test_section_options_fill_schema_defaults_and_check_values():
    out = section_options("training", {"seed": 1, "epochs": 2})
    assert out["mixed_precision"] == "auto" and out["xla"] == "auto"
    assert out["augmentation"] == {} and out["seed"] == 1
    assert section_options("dataset", {})["storage_dtype"] == "float32"
    with pytest.raises(ConfigError, match=r"training\.early_stopping"):
        section_options("training", {"early_stopping": "sometimes"})
    with pytest.raises(ConfigError, match=r"models\.m\.training\.epochs"):
        section_options("training", {"epochs": 0}, where="models.m.training")
