"""JSON-schema validation of the configuration with messages that name the key.

:mod:`gravsep.config` validates with these helpers (kept apart to hold that module's size).
"""


def schema_validator(schema):
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


def schema_messages(validator, instance, prefix=""):
    """One line per schema error of ``instance``, naming the key (under ``prefix``)."""
    import jsonschema

    messages = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path)):
        # for oneOf/anyOf, the most specific sub-error says more
        best = jsonschema.exceptions.best_match([error])
        path = ".".join(str(p) for p in best.absolute_path)
        where = ".".join(p for p in (prefix, path) if p) or "(top level)"
        messages.append(f"{where}: {best.message}")
    return messages
