# Ingest: archives (synthetic, downloaded or local) -> safe unpacking -> one coefficient store
# per letter and year (each text file parsed exactly once).


rule unpack:
    input:
        input_archive,
    output:
        temp(directory("results/ingest/unpacked/{letter}_{year}")),
    log:
        "results/logs/unpack/{letter}_{year}.log",
    benchmark:
        "results/benchmarks/unpack/{letter}_{year}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    script:
        "../workflow/scripts/unpack.py"


rule store:
    input:
        "results/ingest/unpacked/{letter}_{year}",
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
        archive=input_archive,
    script:
        "../workflow/scripts/store.py"
