# Apply: trained models applied to Level-2 gravity fields (config `apply`, docs/level2.md):
# readers and corrections (apply_prepare), the network (apply_predict, a GPU step like
# predict), products and figures; `snakemake apply` builds every entry. The embedded
# demonstration (demo_level2) writes a mission-like series of GSM, TN-13 and TN-14 files.


rule demo_level2:
    input:
        shapefile=LAND_SHAPEFILE,
    output:
        gsm=demo_outputs()["gsm"],
        tn13=demo_outputs()["tn13"],
        tn14=demo_outputs()["tn14"],
        truth=demo_outputs()["truth"],
    log:
        "results/logs/demo_level2.log",
    benchmark:
        "results/benchmarks/demo_level2.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    resources:
        mem_mb=2000,
    params:
        folder=lambda wildcards, output: str(Path(output.tn13).parent),
        truth_folder=lambda wildcards, output: str(Path(output.truth[0]).parent),
        components=COMPONENTS,
        nmax=config["data"]["nmax"],
        seed=config["synthetic"]["seed"],
        scale=canonical(config["synthetic"]["scale"]),
        demo=canonical(config["demo"]),
    script:
        "../workflow/scripts/demo_level2.py"


rule apply_prepare:
    input:
        files=apply_files,
        notes=apply_notes,
        truth=apply_truth,
        model_dataset=apply_model("dataset"),
        model_parameters=apply_model("parameters"),
    output:
        series="results/apply/{name}/series.h5",
        samples="results/apply/{name}/samples.h5",
        report="results/apply/{name}/corrections.yaml",
    log:
        "results/logs/apply_prepare/{name}.log",
    benchmark:
        "results/benchmarks/apply_prepare/{name}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    resources:
        mem_mb=4000,
    params:
        format=apply_setting("input", "format"),
        processing=apply_setting("processing"),
        corrections=apply_setting("corrections"),
        model=apply_setting("model"),
    script:
        "../workflow/scripts/apply_prepare.py"


rule apply_predict:
    input:
        model=apply_model("model"),
        parameters=apply_model("parameters"),
        samples="results/apply/{name}/samples.h5",
    output:
        "results/apply/{name}/predictions.h5",
    log:
        "results/logs/apply_predict/{name}.log",
    benchmark:
        "results/benchmarks/apply_predict/{name}.tsv"
    conda:
        "../envs/gpu.yaml"
    container:
        config["containers"]["gpu"]
    threads: 2
    resources:
        mem_mb=4000,
    params:
        inference_mode=apply_setting("training", "inference_mode"),
        batch_size=apply_setting("training", "batch_size"),
        model=apply_setting("model"),
    script:
        "../workflow/scripts/apply_predict.py"


rule apply_export:
    input:
        series="results/apply/{name}/series.h5",
        samples="results/apply/{name}/samples.h5",
        predictions=["results/apply/{name}/predictions.h5"],
        report="results/apply/{name}/corrections.yaml",
        model_dataset=apply_model("dataset"),
        land=LAND_SHAPEFILE,
    output:
        netcdf="results/apply/{name}/separated.nc",
        icgem="results/apply/{name}/separated_icgem.tar.gz",
        regions=report_entry(
            "results/apply/{name}/regional_means.csv",
            "apply_regional_means",
            category="Apply {name}",
            labels={"apply": "{name}", "product": "regional means (CSV)"},
        ),
        metrics="results/apply/{name}/metrics.csv",
        summary=report_entry(
            "results/apply/{name}/summary.html",
            "apply_summary",
            category="Apply {name}",
            labels={"apply": "{name}", "product": "summary"},
        ),
    log:
        "results/logs/apply_export/{name}.log",
    benchmark:
        "results/benchmarks/apply_export/{name}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        name="{name}",
        model=apply_setting("model"),
        regions=apply_setting("regions"),
        input_noise=apply_input_noise,
    script:
        "../workflow/scripts/apply_export.py"


rule apply_figures:
    input:
        netcdf="results/apply/{name}/separated.nc",
        regions="results/apply/{name}/regional_means.csv",
    output:
        maps=report_entry(
            "results/apply/{name}/figures/maps.png",
            "apply_maps",
            category="Apply {name}",
            labels={"apply": "{name}", "product": "maps"},
        ),
        regions=report_entry(
            "results/apply/{name}/figures/regional_means.png",
            "apply_regional_means",
            category="Apply {name}",
            labels={"apply": "{name}", "product": "regional means"},
        ),
    log:
        "results/logs/apply_figures/{name}.log",
    benchmark:
        "results/benchmarks/apply_figures/{name}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        natural_earth=NATURAL_EARTH,
    script:
        "../workflow/scripts/apply_figures.py"


# `snakemake apply`: every apply entry's products (also part of the default target).
rule apply:
    input:
        apply_outputs(),
