"""The workflow configuration: schema check, defaults, resolved models, cross-key checks.

The JSON schema (``gravsep/schemas/config.schema.yaml``, also reached as
``workflow/schemas/config.schema.yaml``) is the one place where defaults and allowed values
live. :func:`validate` checks a configuration against it once, with messages that name the
key, and fills in the defaults of the top-level sections; :func:`resolve_models` merges each
model over ``defaults`` and then fills in the defaults of the model sections (dataset, network,
training); :func:`check` adds what involves several keys. The trainer reads the same schema
(:func:`section_options`), so a default or an allowed value is changed in one file.
"""

import copy
import functools
import hashlib
import json
from importlib import resources

from gravsep.schema_validation import schema_messages, schema_validator

#: The packaged schema.
SCHEMA = resources.files("gravsep") / "schemas" / "config.schema.yaml"

#: Keys every resolved model must have (set in ``defaults`` or in the model).
REQUIRED = {
    "dataset": ["nmax_flt", "unit", "extent", "sampling", "random_samples", "train_years",
                "validation_years", "test_years"],
    "network": ["num_filters_min", "num_filters_max", "filter_size", "dropout", "dropout_blocks"],
    "training": ["seed", "epochs", "min_epochs", "patience", "batch_size", "learning_rate",
                 "beta_1", "beta_2", "loss_type", "component_weights", "sum_weight",
                 "slope_weight", "shape_weight", "target_scaling", "early_stopping",
                 "inference_mode"],
}  # fmt: skip

#: The model sections, each a definition of the schema.
SECTIONS = tuple(REQUIRED)


@functools.cache
def load_schema():
    """The configuration schema as a dict (read once per process)."""
    import yaml

    return yaml.safe_load(SCHEMA.read_text())


def section_defaults(section):
    """``{key: default}`` of a model section (``dataset``, ``network``, ``training``)."""
    props = load_schema()["definitions"][section]["properties"]
    return {k: copy.deepcopy(v["default"]) for k, v in props.items() if "default" in v}


def allowed_values(section, key):
    """The values the schema allows for ``section.key`` (its ``enum``)."""
    return list(load_schema()["definitions"][section]["properties"][key]["enum"])


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
        # optional keys get their defaults only now: filled into a model's own section, a
        # default would override what `defaults` says (nested sections such as dataset.noise
        # get theirs too)
        definitions = load_schema()["definitions"]
        for section in SECTIONS:
            fill_defaults(model[section], _inline(definitions[section], definitions))
        _as_floats(model["dataset"]["noise"], definitions["noise"])
        models[name] = canonical(model)
    return models


def _as_floats(values, schema):
    """Keys the schema types ``number`` as floats (``scale: 2`` and ``2.0`` are one dataset)."""
    for key, sub in schema["properties"].items():
        if sub.get("type") == "number" and isinstance(values.get(key), int):
            values[key] = float(values[key])


def _inline(schema, definitions, names=("noise",)):
    """``schema`` with the properties that refer to ``names`` of the definitions written out,
    so that :func:`fill_defaults` fills their defaults too."""
    props = {}
    for key, sub in schema.get("properties", {}).items():
        name = sub.get("$ref", "").removeprefix("#/definitions/")
        props[key] = definitions[name] if name in names else sub
    return {**schema, "properties": props}


def dataset_id(dataset, components):
    """Short, stable name of a dataset definition (models with equal definitions share it).

    A noise section that adds nothing (model ``none``) is left out, so datasets without noise
    keep the names they had before noise existed.
    """
    dataset = dict(dataset)
    if dataset.get("noise", {}).get("model", "none") == "none":
        dataset.pop("noise", None)
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
    _check_windows(years, config["preprocess"]["deltat"])
    models = resolve_models(config)
    for name, model in models.items():
        ds, tr = model["dataset"], model["training"]
        where = f"models.{name}"
        if "deltat" in ds:
            _check_windows(years, ds["deltat"], f"{where}.dataset.deltat")
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
        _check_noise(where, ds)
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
        _check_sphere_options(where, ds, net, tr)
    _check_demo_noise(config)
    check_apply(config, models)
    return models


def _check_demo_noise(config):
    """``demo.noise``: a dataset noise definition, defaults filled in (in place); no bank."""
    demo = config.get("demo")
    if not demo:
        return
    demo["noise"] = fill_defaults(
        dict(demo.get("noise") or {}), load_schema()["definitions"]["noise"]
    )
    noise = demo["noise"]
    if noise["model"] == "files" and not noise.get("folder"):
        raise ConfigError("demo.noise.folder: model 'files' needs a folder of ICGEM realisations")
    if noise["augment"]:
        raise ConfigError("demo.noise.augment: the demonstration's files hold one realisation each")


def model_deltat(model, config):
    """A resolved model's time step: its dataset's ``deltat``, else ``preprocess.deltat``."""
    return model["dataset"].get("deltat", config["preprocess"]["deltat"])


def model_processing(model, config):
    """What a model was trained on, in the keys of ``apply.<name>.processing``."""
    return {
        "deltat": model_deltat(model, config),
        "nmax": int(config["data"]["nmax"]),
        "nmax_flt": int(model["dataset"]["nmax_flt"]),
        "unit": model["dataset"]["unit"],
        "components": list(config["preprocess"]["components"]),
    }


def resolve_apply(config):
    """Every ``apply`` entry with the schema's defaults filled in (in place); returns them."""
    definition = load_schema()["definitions"]["apply"]
    for entry in config.get("apply", {}).values():
        fill_defaults(entry, definition)
    return config.get("apply", {})


def check_apply(config, models):
    """Cross-key checks of the ``apply`` entries (after :func:`resolve_apply`).

    The processing of the data must be the applied model's (time step, degree, filter, unit,
    components): a mismatch is refused here, naming the key and both values.
    """
    for name, entry in resolve_apply(config).items():
        where = f"apply.{name}"
        if entry["model"] not in models:
            raise ConfigError(
                f"{where}.model: {entry['model']!r} is not a model of `models:` ({sorted(models)})"
            )
        model = models[entry["model"]]
        trained = model_processing(model, config)
        for key, value in entry["processing"].items():
            if value != trained[key]:
                raise ConfigError(
                    f"{where}.processing.{key}: the data's {value!r} differs from "
                    f"{trained[key]!r} of model {entry['model']} (refusing to apply it)"
                )
        _check_apply_input(entry, where, model, config)
        _check_corrections(entry["corrections"], where)
        for region, area in entry["regions"]["areas"].items():
            if len(area) != 1:
                raise ConfigError(
                    f"{where}.regions.areas.{region}: give exactly one of box, contains"
                )


def _check_apply_input(entry, where, model, config):
    source, files = entry["input"]["source"], entry["input"]["files"]
    if source == "files" and not files:
        raise ConfigError(f"{where}.input.files: no files given (input source files)")
    if source == "demo":
        if files:
            raise ConfigError(
                f"{where}.input.files: the demo writes its own files; give none (source demo)"
            )
        ds = model["dataset"]
        fitted = set(ds["train_years"]) | set(ds["validation_years"])
        overlap = sorted(set(config["demo"]["years"]) & fitted)
        if overlap:
            raise ConfigError(
                f"demo.years: {overlap} are training or validation years of model "
                f"{entry['model']}; the demonstration must lie outside them"
            )


def _check_corrections(corr, where):
    if corr["c20"]["replace"] and "file" not in corr["c20"]:
        raise ConfigError(f"{where}.corrections.c20.file: replace is on but no TN-14 file")
    if corr["degree1"]["insert"] and "file" not in corr["degree1"]:
        raise ConfigError(f"{where}.corrections.degree1.file: insert is on but no TN-13 file")
    if corr["degree1"]["insert"] and corr["degree1"]["frame"] == "CM":
        raise ConfigError(
            f"{where}.corrections.degree1.frame: degree 1 is zero in the CM frame "
            "(k'1 = -1); give coefficients in CF or CE"
        )
    mean = corr["mean"]
    if "period" in mean and "file" in mean:
        raise ConfigError(f"{where}.corrections.mean: give period or file, not both")
    if "period" in mean and mean["period"][0] > mean["period"][1]:
        raise ConfigError(f"{where}.corrections.mean.period: {mean['period']} runs backwards")


def _check_sphere_options(where, ds, net, tr):
    """The network's sphere and input options against the dataset they need."""
    if net["padding"] == "periodic" and ds["extent"]["type"] != "global":
        raise ConfigError(
            f"{where}.network.padding: periodic needs a global extent (a regional cut-out has "
            "no periodic longitude and no pole)"
        )
    if tr["context_windows"] and ds["sampling"] != "lat_lon":
        raise ConfigError(
            f"{where}.training.context_windows: neighbouring windows need sampling lat_lon "
            f"(neighbouring samples are time steps), not {ds['sampling']}"
        )
    for key in ("context_windows", "position_channels"):
        if tr[key] and ds["random_samples"]:
            raise ConfigError(
                f"{where}.training.{key}: random samples mix the time steps; neither "
                "neighbouring windows nor a time of year belong to a random sample"
            )


def _check_noise(where, ds):
    noise = ds.get("noise", {})
    key = f"{where}.dataset.noise"
    if noise.get("model") == "files" and not noise.get("folder"):
        raise ConfigError(f"{key}.folder: model 'files' needs a folder of ICGEM realisations")
    if noise.get("augment"):
        if noise.get("model", "none") == "none":
            raise ConfigError(f"{key}.augment: there is no noise to augment (model none)")
        if ds["sampling"] != "lat_lon":
            raise ConfigError(f"{key}.augment: noise augmentation needs sampling lat_lon")
        if ds["random_samples"]:
            raise ConfigError(
                f"{key}.augment: not with random_samples (the stored samples are mixtures, "
                "the bank's realisations are not)"
            )


#: Dataset keys two models must share for one to be evaluated on the other's dataset.
COMPATIBLE = ("sampling", "extent", "unit", "nmax_flt", "random_samples")


def check_evaluation(config, models):
    """Cross-evaluations and the noise sweep name existing, compatible models.

    Returns
    -------
    list of tuple
        ``(model, dataset definition)`` of every extra evaluation, in config order.
    """
    ev = config.get("evaluation", {})
    pairs = []
    for i, item in enumerate(ev.get("cross", [])):
        where = f"evaluation.cross[{i}]"
        for key in ("model", "on"):
            if item[key] not in models:
                raise ConfigError(
                    f"{where}.{key}: no model {item[key]!r} (models: {sorted(models)})"
                )
        pairs.append((item["model"], models[item["on"]]["dataset"], where))
    sweep = ev.get("noise_sweep")
    if sweep:
        base = sweep["dataset_of"]
        if base not in models or models[base]["dataset"]["noise"]["model"] == "none":
            raise ConfigError(
                f"evaluation.noise_sweep.dataset_of: {base!r} is not a model with noise"
            )
        for s in sweep["scales"]:
            ds = copy.deepcopy(models[base]["dataset"])
            if float(s) != float(ds["noise"]["scale"]):  # else the base's own dataset
                ds["noise"]["scale"] = float(s)
                ds["noise"]["augment"] = False  # an evaluation input: no bank
            if ds["noise"]["scale"] == 0:
                ds["noise"] = {**ds["noise"], "model": "none", "scale": 1.0, "augment": False}
            for name in sweep["models"]:
                if name not in models:
                    raise ConfigError(f"evaluation.noise_sweep.models: no model {name!r}")
                pairs.append((name, ds, "evaluation.noise_sweep"))
    for name, ds, where in pairs:
        own = models[name]["dataset"]
        bad = [k for k in COMPATIBLE if own[k] != ds[k]]
        if bad:
            raise ConfigError(f"{where}: model {name!r} cannot predict that dataset ({bad} differ)")
        seen = sorted(
            set(own["train_years"]) & (set(ds["validation_years"]) | set(ds["test_years"]))
        )
        if seen:
            raise ConfigError(
                f"{where}: model {name!r} was trained on {seen}, which that dataset evaluates"
            )
    return [(name, ds) for name, ds, _ in pairs]


def _check_windows(years, deltat, key="preprocess.deltat"):
    """Every year must have a window that starts in it (windows run from 1 January of the
    first year and end by 1 January after the last, method note §2); calendar months always
    give each year twelve."""
    import datetime as dt

    if deltat == "month":
        return
    first = dt.datetime(min(years), 1, 1)
    step = dt.timedelta(hours=int(deltat))
    total = (dt.datetime(max(years) + 1, 1, 1) - first) // step  # whole windows
    for year in sorted(years):
        start = dt.datetime(year, 1, 1)
        k = -(-(start - first) // step)  # first window starting on or after 1 January
        if k >= total or first + k * step >= dt.datetime(year + 1, 1, 1):
            raise ConfigError(
                f"{key}: windows of {deltat} h leave year {year} without a window "
                f"(data.years {sorted(years)}); use a shorter deltat"
            )


def schema_errors(config):
    """Schema violations of ``config`` as short messages that name the key.

    Snakemake's ``validate`` prints the whole schema; this is what a user needs to read.

    Returns
    -------
    list of str
        E.g. ``"defaults.training: Additional properties are not allowed ('epocs' was
        unexpected)"``; empty if the config is valid.
    """
    return schema_messages(schema_validator(load_schema()), dict(config))


def fill_defaults(config, schema=None):
    """Fill in the ``default`` of every missing key under ``properties``, recursively.

    Definitions reached through ``$ref`` (``defaults``, ``models``) are not entered: their
    defaults are filled in per resolved model (:func:`resolve_models`).
    """
    schema = load_schema() if schema is None else schema
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict) and "properties" in sub:
            fill_defaults(config[key], sub)
    return config


def validate(config):
    """Check ``config`` against the schema and fill in its defaults, in place.

    Raises
    ------
    ConfigError
        Every schema violation, one line each, naming the key.
    """
    problems = schema_errors(config)
    if problems:
        raise ConfigError("\n  config: ".join(problems))
    return fill_defaults(config)


def section_options(section, values, where=None):
    """A model section with the schema's defaults filled in, checked against the schema.

    What the trainer and other steps call on the section they are given, so that a direct
    call (tests, benchmarks, notebooks) gets the same defaults and checks as the workflow.

    Parameters
    ----------
    section : {"dataset", "network", "training"}
    values : dict
    where : str, optional
        Key prefix for messages; default ``section``.

    Raises
    ------
    ConfigError
        A value the schema does not allow, naming the key.
    """
    out = section_defaults(section) | copy.deepcopy(dict(values))
    schema = load_schema()
    sub = {"definitions": schema["definitions"], "$ref": f"#/definitions/{section}"}
    problems = schema_messages(schema_validator(sub), out, where or section)
    if problems:
        raise ConfigError("; ".join(problems))
    return out
