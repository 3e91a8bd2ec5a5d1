"""The ``apply`` and ``demo`` sections of the configuration: defaults and cross-key checks.

Called by :func:`gravsep.config.check` after the models are resolved; every problem is a
:class:`~gravsep.schema.ConfigError` naming the key. docs/level2.md describes the sections.
"""

from gravsep.schema import ConfigError, fill_defaults, load_schema


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


def check_demo(config):
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
