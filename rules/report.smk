# Report: the resolved configuration and provenance, shown in `snakemake --report`.


rule provenance:
    output:
        config=report(
            "results/provenance/config.yaml",
            caption="../workflow/report/config.rst",
            category="Provenance",
            labels={"file": "resolved configuration"},
        ),
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
    script:
        "../workflow/scripts/provenance.py"
