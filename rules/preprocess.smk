# Preprocess: combined components (AO = A + O) -> deltat windows -> yearly mean removed.


rule combine:
    input:
        lambda wc: expand(
            "results/ingest/store/{letter}_{year}.h5",
            letter=list(wc.comp),
            year=wc.year,
        ),
    output:
        temp("results/preprocess/combined/{comp}_{year}.h5"),
    log:
        "results/logs/combine/{comp}_{year}.log",
    benchmark:
        "results/benchmarks/combine/{comp}_{year}.tsv"
    container:
        config["containers"]["cpu"]
    script:
        "../workflow/scripts/combine.py"


rule windows:
    input:
        lambda wc: [f"results/preprocess/combined/{wc.comp}_{wc.year}.h5"]
        + (
            [f"results/preprocess/combined/{wc.comp}_{int(wc.year) + 1}.h5"]
            if windows_need_next_year(wc.year)
            else []
        ),
    output:
        "results/preprocess/windows/{comp}_{year}.h5",
    log:
        "results/logs/windows/{comp}_{year}.log",
    benchmark:
        "results/benchmarks/windows/{comp}_{year}.tsv"
    container:
        config["containers"]["cpu"]
    params:
        years=YEARS,
        deltat=config["preprocess"]["deltat"],
    script:
        "../workflow/scripts/windows.py"


rule anomalies:
    input:
        "results/preprocess/windows/{comp}_{year}.h5",
    output:
        "results/preprocess/anomalies/{comp}_{year}.h5",
    log:
        "results/logs/anomalies/{comp}_{year}.log",
    benchmark:
        "results/benchmarks/anomalies/{comp}_{year}.tsv"
    container:
        config["containers"]["cpu"]
    params:
        remove_yearly_mean=config["preprocess"]["remove_yearly_mean"],
    script:
        "../workflow/scripts/anomalies.py"
