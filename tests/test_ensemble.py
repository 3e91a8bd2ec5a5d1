"""An ensemble's members (gravsep.ensemble): names, seeds, what training is given, checks."""

import pytest
import yaml
from gravsep import ensemble
from gravsep.config import ConfigError, check, validate
from workflow_helpers import REPO


def _models(**training):
    cfg = yaml.safe_load((REPO / "tests" / "configs" / "ensemble.yaml").read_text())
    cfg["models"]["ens"]["training"].update(training)
    validate(cfg)
    return check(cfg)


def test_members_are_models_of_their_own_with_successive_seeds():
    models = _models()
    trained = ensemble.trained_models(models)
    assert list(trained) == ["ens/members/m1", "ens/members/m2", "ens/members/m3"]
    assert [t["training"]["seed"] for t in trained.values()] == [1, 2, 3]
    assert all("ensemble" not in t["training"] for t in trained.values())
    same = {k: v for k, v in models["ens"]["training"].items() if k not in ("ensemble", "seed")}
    for t in trained.values():
        assert {k: v for k, v in t["training"].items() if k != "seed"} == same
        assert t["network"] == models["ens"]["network"] and t["dataset"] == models["ens"]["dataset"]


def test_a_single_model_trains_as_before():
    cfg = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    validate(cfg)
    models = check(cfg)
    assert models["tiny"]["training"]["ensemble"] == {"members": 1, "mc_passes": 1}
    assert not ensemble.is_ensemble(models["tiny"])
    trained = ensemble.trained_models(models)
    assert list(trained) == ["tiny"]
    given = dict(models["tiny"]["training"])
    given.pop("ensemble")
    assert trained["tiny"]["training"] == given


def test_mc_dropout_is_an_ensemble_of_one_network():
    models = _models(ensemble={"members": 1, "mc_passes": 4}, inference_mode="mc_dropout")
    assert ensemble.is_ensemble(models["ens"])
    assert list(ensemble.trained_models(models)) == ["ens"]
    ensemble.check(models)


def test_mc_passes_need_dropout_at_prediction():
    models = _models(ensemble={"members": 2, "mc_passes": 3})  # inference_mode deterministic
    with pytest.raises(ConfigError, match="mc_passes"):
        ensemble.check(models)


def test_members_must_be_positive():
    cfg = yaml.safe_load((REPO / "tests" / "configs" / "ensemble.yaml").read_text())
    cfg["models"]["ens"]["training"]["ensemble"]["members"] = 0
    with pytest.raises(ConfigError, match="members"):
        validate(cfg)
