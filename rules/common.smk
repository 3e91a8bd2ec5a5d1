# Helpers shared by every rule file; the config is validated here, before any rule is read.
import os
import sys
from pathlib import Path

# The science package lives beside the Snakefile; it is also pip-installed (README).
sys.path.insert(0, workflow.basedir)
from gravsep import ensemble
from gravsep.config import (
    ConfigError,
    canonical,
    check,
    check_evaluation,
    dataset_id,
    model_deltat,
    validate,
)
from gravsep.harmonics.noise import active as noise_active, noise_files, noise_id
from gravsep.timestep import is_month, label

# The schema (workflow/schemas/config.schema.yaml) is checked once, here: every problem is one
# line naming the key; then the defaults are filled in and the models resolved.
try:
    validate(config)
    MODELS = check(config)
    _EXTRA = check_evaluation(config, MODELS)
    ensemble.check(MODELS)
except ConfigError as err:
    raise ValueError(f"config: {err}") from None

# Files shipped with the repository, found also when Snakemake runs in another --directory.
REPO = Path(workflow.basedir).parent

# `--sdm conda`: envs/cpu.yaml and envs/gpu.yaml install this checkout with `-e ${GRAVSEP_REPO}`.
# A relative path there (`-e ../`) would break: Snakemake copies an env file to
# .snakemake/conda/<hash>.yaml and runs `conda env create --file <copy>`
# (snakemake/deployment/conda.py, Env.create), and conda runs pip in the folder of the file
# it was given (conda/env/installers/pip.py: pip_workdir = dirname(file)), so `../` would be
# <workdir>/.snakemake. pip expands ${VAR} in requirements (https://pip.pypa.io/en/stable/
# reference/requirements-file-format/#using-environment-variables); conda inherits this
# process's environment. tests/test_containers.py checks both sides.
os.environ.update(GRAVSEP_REPO=str(REPO.absolute()))  # set, not read: no `envvars:`
_rel = os.path.relpath(REPO)
RESOURCES = "resources" if _rel == "." else str(REPO / "resources")
NATURAL_EARTH = f"{RESOURCES}/natural_earth"
LAND_SHAPEFILE = f"{NATURAL_EARTH}/shapefiles/natural_earth/physical/ne_110m_land.shp"

YEARS = list(config["data"]["years"])
LETTERS = list(config["data"]["letters"])
COMPONENTS = list(config["preprocess"]["components"])
# Letters actually needed by the components.
USED_LETTERS = [c for c in LETTERS if any(c in comp for comp in COMPONENTS)]
DATASETS = {}  # dataset id -> definition
MODEL_DATASET = {}  # model name -> dataset id
for _name, _model in MODELS.items():
    _id = dataset_id(_model["dataset"], COMPONENTS)
    DATASETS[_id] = _model["dataset"]
    MODEL_DATASET[_name] = _id
# Every network trained (a model, or each member of an ensemble: `<model>/members/m<k>`,
# gravsep.ensemble), with the training section it is given; ENSEMBLES: models with a spread.
TRAINED = ensemble.trained_models(MODELS)
for _name, _model in MODELS.items():
    for _member in ensemble.member_names(_name, _model):
        MODEL_DATASET[_member] = MODEL_DATASET[_name]
ENSEMBLES = [m for m in MODELS if ensemble.is_ensemble(MODELS[m])]
# Models evaluated beyond their own dataset (evaluation.cross, evaluation.noise_sweep):
# (model, dataset id) pairs; the datasets they need join DATASETS.
CROSS = []
for _name, _ds in _EXTRA:
    _id = dataset_id(_ds, COMPONENTS)
    DATASETS.setdefault(_id, _ds)
    if _id != MODEL_DATASET[_name] and (_name, _id) not in CROSS:
        CROSS.append((_name, _id))
# Noise id -> its noise.scale in the noise sweep (for the sweep figure).
NOISE_SCALES = {}
if config["evaluation"].get("noise_sweep"):
    _sweep = config["evaluation"]["noise_sweep"]
    _base = MODELS[_sweep["dataset_of"]]["dataset"]["noise"]
    for _s in _sweep["scales"]:
        _noise = dict(_base, scale=float(_s))
        NOISE_SCALES[noise_id(_noise) if _s > 0 else "none"] = float(_s)
# Inputs of the model-comparison figure (models' own and cross-evaluated ones, not the
# sweep's) and a readable name of every input noise.
COMPARED_INPUTS = sorted(
    {noise_id(MODELS[m]["dataset"]["noise"]) for m in MODELS}
    | {
        noise_id(MODELS[c["on"]]["dataset"]["noise"])
        for c in config["evaluation"]["cross"]
    }
)
INPUT_LABELS = {
    noise_id(ds.get("noise")): (
        f"noise x{ds['noise']['scale']:g}" if noise_active(ds.get("noise")) else "clean"
    )
    for ds in DATASETS.values()
}
# Datasets of models with noise (each gets a figure of a realisation).
NOISY_DATASETS = sorted(
    {MODEL_DATASET[m] for m in MODELS if noise_active(MODELS[m]["dataset"]["noise"])}
)


wildcard_constraints:
    step=r"month|\d+h",
    year=r"\d{4}",
    letter=r"[AOHIS]",
    comp=r"[AOHIS]+",
    model=r"[A-Za-z0-9_]+(/members/m[0-9]+)?",
    dataset=r"[a-z_]+-[0-9a-f]{10}",
    name=r"[A-Za-z0-9_]+",


def archive_path(letter, year):
    """Where the archive of a letter and year is read from (synthetic or downloaded)."""
    name = f"mtm_{year}_{letter}.tar.gz"
    if config["source"] == "synthetic":
        return f"results/synthetic/archives/{name}"
    return str(Path(config["data"]["archive_dir"]) / name)


def windows_need_next_year(year, deltat=None):
    """Whether the last window that starts in `year` ends in the next year (and is kept).

    `deltat` defaults to preprocess.deltat; calendar months never reach into the next year.
    """
    import datetime as dt

    deltat = config["preprocess"]["deltat"] if deltat is None else deltat
    if is_month(deltat):
        return False
    first = dt.datetime(min(YEARS), 1, 1)
    step = dt.timedelta(hours=deltat)
    end_of_year = dt.datetime(int(year) + 1, 1, 1)
    last = (
        -(-(end_of_year - first) // step) - 1
    )  # index of the last window starting in year
    return first + step * (last + 1) > end_of_year and int(year) + 1 in YEARS


def dataset_deltat(ds):
    """A dataset's time step: its `deltat`, else preprocess.deltat."""
    return ds.get("deltat", config["preprocess"]["deltat"])


def step_folder(kind, deltat):
    """`results/preprocess/<kind>` for preprocess.deltat, `<kind>_<step>` for another step."""
    if deltat == config["preprocess"]["deltat"]:
        return f"results/preprocess/{kind}"
    return f"results/preprocess/{kind}_{label(deltat)}"


def step_deltat(wildcards):
    """Params function: the time step of a {step} wildcard (`month` or `<hours>h`)."""
    return "month" if wildcards.step == "month" else int(wildcards.step[:-1])


def dataset_years(ds):
    return sorted(
        set(ds["train_years"]) | set(ds["validation_years"]) | set(ds["test_years"])
    )


# Input and params functions of the rules (one per pattern the rules share).


def input_archive(wildcards):
    """The input archive of a letter and year (rule store)."""
    return archive_path(wildcards.letter, wildcards.year)


def samples_h5(wildcards):
    """The samples of the dataset a model is trained on (rules train, predict, evaluate, export)."""
    return f"results/datasets/{MODEL_DATASET[wildcards.model]}/samples.h5"


def dataset_noise_files(wildcards):
    """The ICGEM realisations of a ``files`` noise definition: inputs of the dataset, so that
    a changed or added file marks it stale; none for the other noise models."""
    noise = DATASETS[wildcards.dataset].get("noise") or {}
    if noise.get("model") != "files":
        return []
    return [str(p) for p in noise_files(noise["folder"])]


def dataset_anomalies(wildcards):
    """The anomalies of every component over the years a dataset uses (rule dataset)."""
    ds = DATASETS[wildcards.dataset]
    return expand(
        os.path.join(step_folder("anomalies", dataset_deltat(ds)), "{comp}_{year}.h5"),
        comp=COMPONENTS,
        year=dataset_years(ds),
    )


def combine_stores(wildcards):
    """The stores of the letters a component combines, in one year (rule combine)."""
    return expand(
        "results/ingest/store/{letter}_{year}.h5",
        letter=list(wildcards.comp),
        year=wildcards.year,
    )


def windows_combined(wildcards):
    """A component's combined year, and the next one where the year's last window ends in it."""
    comp, year = wildcards.comp, wildcards.year
    deltat = step_deltat(wildcards) if hasattr(wildcards, "step") else None
    files = [f"results/preprocess/combined/{comp}_{year}.h5"]
    if windows_need_next_year(year, deltat):
        files.append(f"results/preprocess/combined/{comp}_{int(year) + 1}.h5")
    return files


def model_setting(section, key=None):
    """Params function: a model's resolved config `section` (or its `key`), per {model}."""

    def setting(wildcards):
        value = MODELS[wildcards.model][section]
        return value if key is None else value[key]

    return setting


def trained_setting(section):
    """Params function: what the training of a network (a model or a member) is given."""

    def setting(wildcards):
        return TRAINED[wildcards.model][section]

    return setting


def networks(kind, model=None):
    """Input function: a model's trained networks' files (``model``, ``parameters``,
    ``training_log``); one for a single model, one per member of an ensemble."""
    names = {"model": "model.keras", "parameters": "parameters.yaml",
             "training_log": "training_log.h5"}  # fmt: skip

    def paths(wildcards):
        name = model or wildcards.model
        members = ensemble.member_names(name, MODELS[name])
        return [f"results/models/{m}/{names[kind]}" for m in members]

    return paths


# Report entries: captions are workflow/report/<caption>.rst (paths relative to rules/).


def report_entry(path, caption, category, subcategory=None, labels=None):
    """`path` flagged for `snakemake --report` with its caption, category and labels."""
    return report(
        path,
        caption=f"../workflow/report/{caption}.rst",
        category=category,
        subcategory=subcategory,
        labels=labels,
    )


def model_figure(name, subcategory, label):
    """A figure of rule figures (caption workflow/report/<name>.rst) in the model's category."""
    return report_entry(
        f"results/models/{{model}}/figures/{name}.png",
        name,
        category="Model {model}",
        subcategory=subcategory,
        labels={"model": "{model}", "figure": label},
    )


CALIBRATION_FIGURES = ["spread_maps", "reliability"]

FIGURES = [
    "rms_profiles",
    "degree_amplitudes",
    "maps",
    "component_errors",
    "training_curves",
]


def cross_metrics():
    """The metrics of every model evaluated on another dataset (``CROSS``)."""
    return [f"results/models/{m}/on/{d}/metrics.csv" for m, d in CROSS]


def final_outputs():
    outputs = [
        "results/metrics.csv",
        "results/metrics.html",
        "results/model_comparison.png",
        "results/provenance/config.yaml",
    ]
    outputs += [f"results/noise/{d}.png" for d in NOISY_DATASETS]
    if NOISE_SCALES:
        outputs.append("results/noise_sweep.png")
    for name in MODELS:
        outputs += [f"results/models/{name}/figures/{fig}.png" for fig in FIGURES]
        outputs += [
            f"results/models/{name}/export/separated.nc",
            f"results/models/{name}/export/separated_icgem.tar.gz",
        ]
    if ENSEMBLES:
        outputs.append("results/calibration.csv")
        for name in ENSEMBLES:
            outputs += [
                f"results/models/{name}/figures/{f}.png" for f in CALIBRATION_FIGURES
            ]
    if config["source"] == "synthetic":
        outputs += [
            "results/synthetic/figures/component_maps.png",
            "results/synthetic/figures/degree_amplitudes.png",
        ]
    return outputs + apply_outputs()


# Apply: trained models applied to Level-2 files (config `apply`, docs/level2.md). The entries
# were resolved (defaults filled in) and checked by `check` above.
APPLY = config["apply"]
DEMO_FOLDER = "results/demo/level2"
DEMO_TRUTH = "results/demo/truth"
APPLY_PRODUCTS = {
    "netcdf": "separated.nc",
    "icgem": "separated_icgem.tar.gz",
    "regions": "regional_means.csv",
    "metrics": "metrics.csv",
    "summary": "summary.html",
}
APPLY_FIGURES = {"maps": "figures/maps.png", "regions": "figures/regional_means.png"}


def demo_outputs():
    """The demonstration's GSM files, TN-13 and TN-14 files and truth stores (their paths)."""
    from gravsep.level2.demo import TN13_NAME, TN14_NAME, file_names

    d = config["demo"]
    gsm = file_names(
        d["years"], d["center"], d["mission"], d["flag"], d["release"], d["gzip"]
    )
    return {
        "gsm": [f"{DEMO_FOLDER}/{name}" for name in gsm],
        "tn13": f"{DEMO_FOLDER}/{TN13_NAME}",
        "tn14": f"{DEMO_FOLDER}/{TN14_NAME}",
        "truth": expand(
            f"{DEMO_TRUTH}/{{comp}}_{{year}}.h5", comp=COMPONENTS, year=d["years"]
        ),
    }


def apply_files(wildcards):
    """The input files of an apply entry: the demonstration's, or the configured ones."""
    entry = APPLY[wildcards.name]
    if entry["input"]["source"] == "demo":
        return demo_outputs()["gsm"]
    from gravsep.level2.inputs import expand_files

    return expand_files(entry["input"]["files"])


def apply_notes(wildcards):
    """The correction files an apply entry switches on (TN-14, TN-13, mean field)."""
    corr = APPLY[wildcards.name]["corrections"]
    files = []
    if corr["c20"]["replace"]:
        files.append(corr["c20"]["file"])
    if corr["degree1"]["insert"]:
        files.append(corr["degree1"]["file"])
    if corr["mean"]["remove"] and "file" in corr["mean"]:
        files.append(corr["mean"]["file"])
    return files


def apply_truth(wildcards):
    """Truth stores of an apply entry (the demonstration's), else none."""
    if APPLY[wildcards.name]["input"]["source"] == "demo":
        return demo_outputs()["truth"]
    return []


def apply_model(key):
    """Input function: a file of the model an apply entry names."""

    def path(wildcards):
        model = APPLY[wildcards.name]["model"]
        if key == "dataset":
            return f"results/datasets/{MODEL_DATASET[model]}/samples.h5"
        if key == "record":  # the parameters the model's processing is read from
            return networks("parameters", model)(wildcards)[0]
        return networks(key, model)(wildcards)  # every member of an ensemble

    return path


def apply_input_noise(wildcards):
    """Params function: the noise id of an apply entry's files (the demo's), else unknown."""
    if APPLY[wildcards.name]["input"]["source"] == "demo":
        return noise_id(config["demo"]["noise"])
    return "unknown"


def apply_setting(*keys):
    """Params function: a key of an apply entry (keys 'training', k: the applied model's training setting k)."""

    def setting(wildcards):
        entry = APPLY[wildcards.name]
        if keys[0] == "training":
            return MODELS[entry["model"]]["training"][keys[1]]
        value = entry
        for key in keys:
            value = value[key]
        return canonical(value)

    return setting


def apply_outputs():
    """Every product of every apply entry (rule apply, and `all`)."""
    outputs = []
    for name in APPLY:
        outputs += [f"results/apply/{name}/{p}" for p in APPLY_PRODUCTS.values()]
        outputs += [f"results/apply/{name}/{p}" for p in APPLY_FIGURES.values()]
    return outputs


def apply_metrics():
    """Apply-versus-truth metrics of the entries whose truth is known (the metrics table)."""
    return [
        f"results/apply/{name}/metrics.csv"
        for name, entry in APPLY.items()
        if entry["input"]["source"] == "demo"
    ]
