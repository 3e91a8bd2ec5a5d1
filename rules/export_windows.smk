# Export for users of other tools: the deltat windows (yearly mean removed, if configured) as
# ICGEM files in the reference's folder layout, one tar.gz per component and year.


rule export_windows:
    input:
        "results/preprocess/anomalies/{comp}_{year}.h5",
    output:
        "results/preprocess/icgem/{comp}_{year}.tar.gz",
    log:
        "results/logs/export_windows/{comp}_{year}.log",
    benchmark:
        "results/benchmarks/export_windows/{comp}_{year}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        deltat=config["preprocess"]["deltat"],
    script:
        "../workflow/scripts/export_windows.py"


# `snakemake icgem_windows`: every component and year (not part of the default target).
rule icgem_windows:
    input:
        expand(
            "results/preprocess/icgem/{comp}_{year}.tar.gz",
            comp=COMPONENTS,
            year=YEARS,
        ),
