# Preprocess: combined components (AO = A + O) -> deltat windows -> yearly mean removed.


rule combine:
    input:
        combine_stores,
    output:
        temp("results/preprocess/combined/{comp}_{year}.h5"),
    log:
        "results/logs/combine/{comp}_{year}.log",
    benchmark:
        "results/benchmarks/combine/{comp}_{year}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    script:
        "../workflow/scripts/combine.py"


rule windows:
    input:
        windows_combined,
    output:
        "results/preprocess/windows/{comp}_{year}.h5",
    log:
        "results/logs/windows/{comp}_{year}.log",
    benchmark:
        "results/benchmarks/windows/{comp}_{year}.tsv"
    conda:
        "../envs/cpu.yaml"
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
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        remove_yearly_mean=config["preprocess"]["remove_yearly_mean"],
    script:
        "../workflow/scripts/anomalies.py"


# Windows of another time step, for a dataset whose `deltat` differs from preprocess.deltat
# (a monthly model beside weekly ones): results/preprocess/{windows,anomalies}_<step>/, step
# `month` or `<hours>h`.
use rule windows as windows_step with:
    output:
        "results/preprocess/windows_{step}/{comp}_{year}.h5",
    log:
        "results/logs/windows_{step}/{comp}_{year}.log",
    benchmark:
        "results/benchmarks/windows_{step}/{comp}_{year}.tsv"
    params:
        years=YEARS,
        deltat=step_deltat,


use rule anomalies as anomalies_step with:
    input:
        "results/preprocess/windows_{step}/{comp}_{year}.h5",
    output:
        "results/preprocess/anomalies_{step}/{comp}_{year}.h5",
    log:
        "results/logs/anomalies_{step}/{comp}_{year}.log",
    benchmark:
        "results/benchmarks/anomalies_{step}/{comp}_{year}.tsv"
