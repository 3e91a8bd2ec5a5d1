# Synthetic Earth-system model: the embedded default's input, written in the ESA ESM layout.


rule synthetic_model:
    input:
        shapefile=LAND_SHAPEFILE,
    output:
        "results/synthetic/model.h5",
    log:
        "results/logs/synthetic_model.log",
    benchmark:
        "results/benchmarks/synthetic_model.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    resources:
        mem_mb=2000,
    params:
        years=YEARS,
        nmax=config["data"]["nmax"],
        seed=config["synthetic"]["seed"],
        scale=canonical(config["synthetic"]["scale"]),
    script:
        "../workflow/scripts/synthetic_model.py"


rule synthetic_archive:
    input:
        model="results/synthetic/model.h5",
    output:
        "results/synthetic/archives/mtm_{year}_{letter}.tar.gz",
    log:
        "results/logs/synthetic_archive/{year}_{letter}.log",
    benchmark:
        "results/benchmarks/synthetic_archive/{year}_{letter}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    resources:
        mem_mb=1000,
    script:
        "../workflow/scripts/synthetic_archive.py"


rule synthetic_figures:
    input:
        model="results/synthetic/model.h5",
    output:
        maps=report_entry(
            "results/synthetic/figures/component_maps.png",
            "synthetic_maps",
            category="Synthetic Earth-system model",
        ),
        spectra=report_entry(
            "results/synthetic/figures/degree_amplitudes.png",
            "synthetic_spectra",
            category="Synthetic Earth-system model",
        ),
    log:
        "results/logs/synthetic_figures.log",
    benchmark:
        "results/benchmarks/synthetic_figures.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        natural_earth=NATURAL_EARTH,
    script:
        "../workflow/scripts/synthetic_figures.py"
