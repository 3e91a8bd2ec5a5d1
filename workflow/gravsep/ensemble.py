"""Ensembles of a model: its members, their seeds and what each member's training is given.

A model's ``training.ensemble`` (schema) asks for ``members`` networks trained with seeds
``seed, seed + 1, ...`` (weights, shuffling, augmentation and dropout draws follow the seed)
and for ``mc_passes`` stochastic passes (MC dropout) of each network at prediction. The
members are trained as models of their own, named ``<model>/members/m<k>`` (``k`` from 1), so
each is its own train job: ``results/models/<model>/members/m<k>/``. The ensemble's
prediction (rule ``predict``) is the mean over every member's passes, its spread their
standard deviation (:mod:`gravsep.formats.predictions`).

The ``ensemble`` section is not handed to training: a member's ``parameters.yaml`` and a single
model's are what they were without it, and changing the number of members retrains only the
members added.
"""

from gravsep.config import ConfigError

#: Folder of the members under a model's folder.
MEMBERS = "members"


def settings(model):
    """``(members, mc_passes)`` of a resolved model."""
    ens = model["training"].get("ensemble") or {}
    return int(ens.get("members", 1)), int(ens.get("mc_passes", 1))


def is_ensemble(model):
    """Whether a resolved model predicts with a spread (several members or passes)."""
    members, passes = settings(model)
    return members > 1 or passes > 1


def member_names(name, model):
    """The trained networks of a model: ``[name]``, or ``name/members/m1`` ... for members > 1."""
    members, _ = settings(model)
    if members == 1:
        return [name]
    return [f"{name}/{MEMBERS}/m{k}" for k in range(1, members + 1)]


def training_section(training, member=1):
    """What training is given: the section less ``ensemble``, seed ``seed + member - 1``."""
    out = {k: v for k, v in training.items() if k != "ensemble"}
    out["seed"] = int(training["seed"]) + int(member) - 1
    return out


def trained_models(models):
    """Name -> resolved definition of every network to train (models and their members)."""
    out = {}
    for name, model in models.items():
        for k, member in enumerate(member_names(name, model), start=1):
            out[member] = dict(model, training=training_section(model["training"], k))
    return out


def check(models):
    """Cross-key checks of the ``ensemble`` sections; raise :class:`ConfigError`."""
    for name, model in models.items():
        _, passes = settings(model)
        if passes > 1 and model["training"]["inference_mode"] == "deterministic":
            raise ConfigError(
                f"models.{name}.training.ensemble.mc_passes: {passes} passes need "
                "inference_mode mc_dropout or training (dropout on at prediction)"
            )
