# Ingest: archives (synthetic, downloaded or local) -> one coefficient store per letter and
# year: the members are streamed from the archive into the store (each text file parsed
# exactly once, no unpacked copy on disk, every size bounded by the degree).


rule store:
    input:
        input_archive,
    output:
        "results/ingest/store/{letter}_{year}.h5",
    log:
        "results/logs/store/{letter}_{year}.log",
    benchmark:
        "results/benchmarks/store/{letter}_{year}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    resources:
        mem_mb=1000,
    params:
        nmax=config["data"]["nmax"],
    script:
        "../workflow/scripts/store.py"
