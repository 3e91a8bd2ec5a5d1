# Evaluate: predictions back to lat-lon-t, metrics against baselines, figures, metrics table.


rule evaluate:
    input:
        dataset=samples_h5,
        predictions="results/models/{model}/predictions.h5",
        training_log="results/models/{model}/training_log.h5",
    output:
        evaluation="results/models/{model}/evaluation.h5",
        metrics="results/models/{model}/metrics.csv",
    log:
        "results/logs/evaluate/{model}.log",
    benchmark:
        "results/benchmarks/evaluate/{model}.tsv"
    container:
        config["containers"]["cpu"]
    params:
        model="{model}",
    script:
        "../workflow/scripts/evaluate.py"


rule figures:
    input:
        evaluation="results/models/{model}/evaluation.h5",
        training_log="results/models/{model}/training_log.h5",
    output:
        rms_profiles=report(
            "results/models/{model}/figures/rms_profiles.png",
            caption="../workflow/report/rms_profiles.rst",
            category="Model {model}",
            subcategory="Test year",
            labels={"model": "{model}", "figure": "RMS profiles"},
        ),
        degree_amplitudes=report(
            "results/models/{model}/figures/degree_amplitudes.png",
            caption="../workflow/report/degree_amplitudes.rst",
            category="Model {model}",
            subcategory="Test year",
            labels={"model": "{model}", "figure": "degree amplitudes"},
        ),
        maps=report(
            "results/models/{model}/figures/maps.png",
            caption="../workflow/report/maps.rst",
            category="Model {model}",
            subcategory="Test year",
            labels={"model": "{model}", "figure": "maps"},
        ),
        component_errors=report(
            "results/models/{model}/figures/component_errors.png",
            caption="../workflow/report/component_errors.rst",
            category="Model {model}",
            subcategory="Test year",
            labels={"model": "{model}", "figure": "component errors"},
        ),
        training_curves=report(
            "results/models/{model}/figures/training_curves.png",
            caption="../workflow/report/training_curves.rst",
            category="Model {model}",
            subcategory="Training",
            labels={"model": "{model}", "figure": "training curves"},
        ),
    log:
        "results/logs/figures/{model}.log",
    benchmark:
        "results/benchmarks/figures/{model}.tsv"
    container:
        config["containers"]["cpu"]
    params:
        model="{model}",
        natural_earth=NATURAL_EARTH,
    script:
        "../workflow/scripts/figures.py"


rule metrics_table:
    input:
        metrics=expand("results/models/{model}/metrics.csv", model=list(MODELS)),
    output:
        csv=report(
            "results/metrics.csv",
            caption="../workflow/report/metrics_table.rst",
            category="Metrics",
            labels={"table": "relative RMS error (CSV)"},
        ),
        html=report(
            "results/metrics.html",
            caption="../workflow/report/metrics_table.rst",
            category="Metrics",
            labels={"table": "relative RMS error"},
        ),
        comparison=report(
            "results/model_comparison.png",
            caption="../workflow/report/model_comparison.rst",
            category="Metrics",
            labels={"figure": "models and baselines"},
        ),
    log:
        "results/logs/metrics_table.log",
    benchmark:
        "results/benchmarks/metrics_table.tsv"
    container:
        config["containers"]["cpu"]
    script:
        "../workflow/scripts/metrics_table.py"
