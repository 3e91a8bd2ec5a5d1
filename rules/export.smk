# Export: separated fields of the test years as NetCDF-CF grids and ICGEM coefficient files.


rule export:
    input:
        dataset=samples_h5,
        predictions="results/models/{model}/predictions.h5",
        evaluation="results/models/{model}/evaluation.h5",
    output:
        netcdf="results/models/{model}/export/separated.nc",
        icgem="results/models/{model}/export/separated_icgem.tar.gz",
    log:
        "results/logs/export/{model}.log",
    benchmark:
        "results/benchmarks/export/{model}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        model="{model}",
        deltat=lambda wc: model_deltat(MODELS[wc.model], config),
    script:
        "../workflow/scripts/export.py"
