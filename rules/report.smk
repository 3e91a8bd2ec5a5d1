# Report: the resolved configuration and the provenance of the run, shown in
# `snakemake --report`, and a Workflow Run RO-Crate (results/ro-crate-metadata.json) whose root is
# results/.

# The rule's files, by output name (the snapshot folder aside).
PROVENANCE_OUTPUTS = {
    "config": "results/provenance/config.yaml",
    "record": "results/provenance/provenance.yaml",
    "html": "results/provenance/provenance.html",
    "crate": "results/ro-crate-metadata.json",
}

# What the provenance describes: the run's final outputs but its own files, ...
PROVENANCE_DESCRIBED = [
    path
    for path in final_outputs()
    if path not in PROVENANCE_OUTPUTS.values()
    and not path.startswith("results/provenance/")
]
# ... the input archives of every letter and year the components need, ...
PROVENANCE_ARCHIVES = [
    archive_path(letter, year) for letter in USED_LETTERS for year in YEARS
]
# ... and the workflow definition (copied into the crate): the Snakefile and the rule files.
PROVENANCE_RULE_FILES = sorted(str(path) for path in (REPO / "rules").glob("*.smk"))


rule provenance:
    input:
        described=PROVENANCE_DESCRIBED,
        archives=PROVENANCE_ARCHIVES,
        configfiles=[str(path) for path in workflow.configfiles],
        snakefile=workflow.main_snakefile,
        rule_files=PROVENANCE_RULE_FILES,
    output:
        config=report_entry(
            PROVENANCE_OUTPUTS["config"],
            "config",
            category="Provenance",
            labels={"file": "resolved configuration"},
        ),
        record=PROVENANCE_OUTPUTS["record"],
        html=report_entry(
            PROVENANCE_OUTPUTS["html"],
            "provenance",
            category="Provenance",
            labels={"file": "provenance"},
        ),
        crate=PROVENANCE_OUTPUTS["crate"],
        snapshot=directory("results/provenance/workflow"),
    log:
        "results/logs/provenance.log",
    benchmark:
        "results/benchmarks/provenance.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        config=config,
        models=MODELS,
        datasets=MODEL_DATASET,
        containers=config["containers"],
        # the repository: the folder above the Snakefile's
        repo=lambda wildcards, input: str(Path(input.snakefile).parents[1]),
        benchmarks="results/benchmarks",
        own_benchmark="results/benchmarks/provenance.tsv",
    script:
        "../workflow/scripts/provenance.py"
