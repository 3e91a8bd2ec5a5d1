# Report: the resolved configuration and the provenance of the run, shown in
# `snakemake --report`, and a Workflow Run RO-Crate (results/ro-crate-metadata.json) whose root is
# results/.

PROVENANCE_OUTPUTS = [
    "results/provenance/config.yaml",
    "results/provenance/provenance.yaml",
    "results/provenance/provenance.html",
    "results/ro-crate-metadata.json",
]

# What the provenance describes: the run's final outputs but its own files, ...
PROVENANCE_DESCRIBED = [
    path
    for path in final_outputs()
    if path not in PROVENANCE_OUTPUTS and not path.startswith("results/provenance/")
]
# ... the input archives of every letter and year the components need, ...
PROVENANCE_ARCHIVES = [
    archive_path(letter, year) for letter in USED_LETTERS for year in YEARS
]
# ... and the workflow definition (copied into the crate): the Snakefile and the rule files.
PROVENANCE_WORKFLOW = [workflow.main_snakefile] + sorted(
    str(path) for path in (REPO / "rules").glob("*.smk")
)


rule provenance:
    input:
        described=PROVENANCE_DESCRIBED,
        archives=PROVENANCE_ARCHIVES,
        configfiles=[str(path) for path in workflow.configfiles],
        workflow=PROVENANCE_WORKFLOW,
    output:
        config=report_entry(
            PROVENANCE_OUTPUTS[0],
            "config",
            category="Provenance",
            labels={"file": "resolved configuration"},
        ),
        record=PROVENANCE_OUTPUTS[1],
        html=report_entry(
            PROVENANCE_OUTPUTS[2],
            "provenance",
            category="Provenance",
            labels={"file": "provenance"},
        ),
        crate=PROVENANCE_OUTPUTS[3],
        snapshot=directory("results/provenance/workflow"),
    log:
        "results/logs/provenance.log",
    benchmark:
        "results/benchmarks/provenance.tsv"
    container:
        config["containers"]["cpu"]
    params:
        config=config,
        models=MODELS,
        datasets=MODEL_DATASET,
        containers=config["containers"],
        # the repository: the folder above the Snakefile's
        repo=lambda wildcards, input: str(Path(input.workflow[0]).parents[1]),
        benchmarks="results/benchmarks",
        own_benchmark="results/benchmarks/provenance.tsv",
    script:
        "../workflow/scripts/provenance.py"
