"""Resolution and cross-key checks of the workflow configuration.

The JSON schema (``workflow/schemas/config.schema.yaml``) checks each key on its own; this
module resolves the named models (``defaults`` overridden by each entry of ``models``) and
checks what involves several keys. Every error names the key.
"""

import copy
import hashlib
import json

#: Keys every resolved model must have.
REQUIRED = {
    "dataset": ["nmax_flt", "unit", "extent", "sampling", "random_samples", "train_years",
                "validation_years", "test_years"],
    "network": ["num_filters_min", "num_filters_max", "filter_size", "dropout", "dropout_blocks"],
    "training": ["seed", "epochs", "min_epochs", "patience", "batch_size", "learning_rate",
                 "beta_1", "beta_2", "loss_type", "component_weights", "sum_weight",
                 "slope_weight", "shape_weight", "target_scaling", "early_stopping",
                 "inference_mode"],
}  # fmt: skip


#: Keys a resolved model may lack, with their defaults.
OPTIONAL = [
    ("dataset", "storage_dtype", "float32"),
    ("training", "augmentation", {}),
    ("training", "mixed_precision", "auto"),
    ("training", "xla", "auto"),
]


class ConfigError(ValueError):
    """A configuration value that is wrong; the message names the key."""


def deep_merge(base, override):
    """Copy of ``base`` with ``override`` merged in (dicts recursively, other values replaced)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def canonical(value):
    """Copy of a config value with every mapping's keys sorted, recursively.

    Rule parameters are compared as text to decide what is stale: sorting makes a mere
    reordering of keys in a config file change nothing.
    """
    if isinstance(value, dict):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


def resolve_models(config):
    """Each model's complete definition: ``defaults`` with the model's overrides merged in."""
    models = {}
    for name, override in config["models"].items():
        model = deep_merge(config.get("defaults", {}), override or {})
        for section, keys in REQUIRED.items():
            for key in keys:
                if key not in model.get(section, {}):
                    raise ConfigError(
                        f"models.{name}.{section}.{key}: missing (set it there or in "
                        f"defaults.{section}.{key})"
                    )
        # optional keys get their defaults here, not in the schema: a schema default would be
        # filled into every model's own section and override what `defaults` says
        for section, key, value in OPTIONAL:
            model[section].setdefault(key, value)
        models[name] = canonical(model)
    return models


def dataset_id(dataset, components):
    """Short, stable name of a dataset definition (models with equal definitions share it)."""
    blob = json.dumps({"dataset": dataset, "components": list(components)}, sort_keys=True)
    return f"{dataset['sampling']}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def check(config):
    """Cross-key checks; raise :class:`ConfigError` naming the key at fault.

    Returns
    -------
    dict
        The resolved models (see :func:`resolve_models`).
    """
    years = list(config["data"]["years"])
    letters = set(config["data"]["letters"])
    comps = list(config["preprocess"]["components"])
    for i, comp in enumerate(comps):
        missing = sorted(set(comp) - letters)
        if missing:
            raise ConfigError(
                f"preprocess.components[{i}]: {comp!r} needs letter(s) {', '.join(missing)} "
                f"that data.letters {sorted(letters)} does not provide"
            )
        if len(set(comp)) != len(comp):
            raise ConfigError(f"preprocess.components[{i}]: {comp!r} repeats a letter")
    used = [c for comp in comps for c in comp]
    if len(used) != len(set(used)):
        raise ConfigError("preprocess.components: a letter appears in two components")
    if config["source"] == "synthetic" and config["data"]["nmax"] > 120:
        raise ConfigError("data.nmax: the synthetic model is meant for degrees up to 120")
    models = resolve_models(config)
    for name, model in models.items():
        ds, tr = model["dataset"], model["training"]
        where = f"models.{name}"
        for key in ("train_years", "validation_years", "test_years"):
            outside = sorted(set(ds[key]) - set(years))
            if outside:
                raise ConfigError(
                    f"{where}.dataset.{key}: year(s) {outside} are not in data.years {years}"
                )
        if set(ds["train_years"]) & set(ds["test_years"]):
            raise ConfigError(f"{where}.dataset.test_years: overlaps train_years")
        if ds["extent"]["type"] == "regional" and not {"lat", "lon"} <= set(ds["extent"]):
            raise ConfigError(f"{where}.dataset.extent: a regional extent needs lat and lon")
        if ds["nmax_flt"] > config["data"]["nmax"]:
            raise ConfigError(
                f"{where}.dataset.nmax_flt: {ds['nmax_flt']} exceeds data.nmax "
                f"{config['data']['nmax']}"
            )
        if len(tr["component_weights"]) != len(comps):
            raise ConfigError(
                f"{where}.training.component_weights: {len(tr['component_weights'])} weights "
                f"for {len(comps)} components {comps}"
            )
        if sum(tr["component_weights"]) + tr["sum_weight"] <= 0:
            raise ConfigError(f"{where}.training.component_weights: all weights are zero")
        for key in ("slope_weight", "shape_weight"):
            if isinstance(tr[key], list) and len(tr[key]) != len(comps):
                raise ConfigError(
                    f"{where}.training.{key}: {len(tr[key])} weights for {len(comps)} "
                    f"components {comps}"
                )
        timeless = not any(_as_list(tr["slope_weight"])) and not any(_as_list(tr["shape_weight"]))
        if ds["sampling"] == "lat_lon" and not timeless:
            raise ConfigError(
                f"{where}.training.slope_weight/shape_weight: the slope and shape losses need "
                "a time axis in the images (sampling lat_t or t_lon), not lat_lon"
            )
        unknown = sorted(set(tr.get("augmentation", {})) - set(comps))
        if unknown:
            raise ConfigError(
                f"{where}.training.augmentation: {unknown} are not components {comps}"
            )
        if tr["min_epochs"] > tr["epochs"]:
            raise ConfigError(f"{where}.training.min_epochs: exceeds epochs ({tr['epochs']})")
        net = model["network"]
        if net["num_filters_min"] > net["num_filters_max"]:
            raise ConfigError(f"{where}.network.num_filters_min: exceeds num_filters_max")
    return models


def schema_errors(config, schema_path):
    """Schema violations of ``config`` as short messages that name the key.

    Snakemake's ``validate`` prints the whole schema; this is what a user needs to read.

    Returns
    -------
    list of str
        E.g. ``"defaults.training: Additional properties are not allowed ('epocs' was
        unexpected)"``; empty if the config is valid.
    """
    import jsonschema
    import yaml

    with open(schema_path) as fh:
        schema = yaml.safe_load(fh)
    validator = jsonschema.Draft202012Validator(schema)
    messages = []
    for error in sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.path)):
        # for oneOf/anyOf, the most specific sub-error says more
        best = jsonschema.exceptions.best_match([error])
        path = ".".join(str(p) for p in best.absolute_path) or "(top level)"
        messages.append(f"{path}: {best.message}")
    return messages
