"""The configuration schema: the one place of defaults and allowed values, its messages.

``gravsep/schemas/config.schema.yaml`` (also reached as ``workflow/schemas/``) is read once per
process (:func:`load_schema`); :func:`schema_errors` checks a configuration with messages that
name the key, :func:`fill_defaults` fills in the defaults. :mod:`gravsep.config` builds the
validation of a whole configuration on these.
"""

import copy
import functools
from importlib import resources

#: The packaged schema.
SCHEMA = resources.files("gravsep") / "schemas" / "config.schema.yaml"


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


def _validator(schema):
    """A draft 2020-12 validator whose ``integer`` is an int, not a float such as 2001.0.

    JSON Schema counts 2001.0 as an integer; the workflow would then compute with a float
    year and fail far from the key at fault.
    """
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return jsonschema.validators.extend(base, type_checker=checker)(schema)


def _messages(validator, instance, prefix=""):
    import jsonschema

    messages = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path)):
        # for oneOf/anyOf, the most specific sub-error says more
        best = jsonschema.exceptions.best_match([error])
        path = ".".join(str(p) for p in best.absolute_path)
        where = ".".join(p for p in (prefix, path) if p) or "(top level)"
        messages.append(f"{where}: {best.message}")
    return messages


def schema_errors(config):
    """Schema violations of ``config`` as short messages that name the key.

    Snakemake's ``validate`` prints the whole schema; this is what a user needs to read.

    Returns
    -------
    list of str
        E.g. ``"defaults.training: Additional properties are not allowed ('epocs' was
        unexpected)"``; empty if the config is valid.
    """
    return _messages(_validator(load_schema()), dict(config))


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
