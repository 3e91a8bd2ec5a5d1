# Evaluate: predictions back to lat-lon-t, metrics against baselines, figures, metrics table.


rule evaluate:
    input:
        dataset=samples_h5,
        predictions="results/models/{model}/predictions.h5",
        training_log=lambda wc: networks("training_log")(wc)[0],
    output:
        evaluation="results/models/{model}/evaluation.h5",
        metrics="results/models/{model}/metrics.csv",
    log:
        "results/logs/evaluate/{model}.log",
    benchmark:
        "results/benchmarks/evaluate/{model}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        model="{model}",
        classical=config["evaluation"]["classical"],
    script:
        "../workflow/scripts/evaluate.py"


# The metrics of a model on another model's dataset: no figures, the same baselines.
rule evaluate_on:
    input:
        dataset="results/datasets/{dataset}/samples.h5",
        predictions="results/models/{model}/on/{dataset}/predictions.h5",
    output:
        metrics="results/models/{model}/on/{dataset}/metrics.csv",
    log:
        "results/logs/evaluate_on/{model}/{dataset}.log",
    benchmark:
        "results/benchmarks/evaluate_on/{model}/{dataset}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        model="{model}",
        classical=config["evaluation"]["classical"],
    script:
        "../workflow/scripts/evaluate.py"


# One output per name in FIGURES (common.smk), in the report under "Model <name>".
rule figures:
    input:
        evaluation="results/models/{model}/evaluation.h5",
        training_log=lambda wc: networks("training_log")(wc)[0],
    output:
        rms_profiles=model_figure("rms_profiles", "Test year", "RMS profiles"),
        degree_amplitudes=model_figure(
            "degree_amplitudes", "Test year", "degree amplitudes"
        ),
        maps=model_figure("maps", "Test year", "maps"),
        component_errors=model_figure(
            "component_errors", "Test year", "component errors"
        ),
        training_curves=model_figure("training_curves", "Training", "training curves"),
    log:
        "results/logs/figures/{model}.log",
    benchmark:
        "results/benchmarks/figures/{model}.tsv"
    conda:
        "../envs/cpu.yaml"
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
        cross=cross_metrics(),
        apply=apply_metrics(),
    output:
        csv=report_entry(
            "results/metrics.csv",
            "metrics_table",
            category="Metrics",
            labels={"table": "relative RMS error (CSV)"},
        ),
        html=report_entry(
            "results/metrics.html",
            "metrics_table",
            category="Metrics",
            labels={"table": "relative RMS error"},
        ),
        comparison=report_entry(
            "results/model_comparison.png",
            "model_comparison",
            category="Metrics",
            labels={"figure": "models and baselines"},
        ),
    log:
        "results/logs/metrics_table.log",
    benchmark:
        "results/benchmarks/metrics_table.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        compared_inputs=COMPARED_INPUTS,
        input_labels=INPUT_LABELS,
    script:
        "../workflow/scripts/metrics_table.py"


# A noise realisation beside the signals, for every dataset with noise.
rule noise_figure:
    input:
        dataset="results/datasets/{dataset}/samples.h5",
    output:
        report_entry(
            "results/noise/{dataset}.png",
            "noise_realisation",
            category="Noise",
            labels={"dataset": "{dataset}", "figure": "noise and signals"},
        ),
    log:
        "results/logs/noise_figure/{dataset}.log",
    benchmark:
        "results/benchmarks/noise_figure/{dataset}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    resources:
        mem_mb=4000,
    params:
        natural_earth=NATURAL_EARTH,
    script:
        "../workflow/scripts/noise_figure.py"


rule noise_sweep_figure:
    input:
        metrics="results/metrics.csv",
    output:
        report_entry(
            "results/noise_sweep.png",
            "noise_sweep",
            category="Noise",
            labels={"figure": "error against noise scale"},
        ),
    log:
        "results/logs/noise_sweep_figure.log",
    benchmark:
        "results/benchmarks/noise_sweep_figure.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        scales=NOISE_SCALES,
        models=config["evaluation"].get("noise_sweep", {}).get("models", []),
    script:
        "../workflow/scripts/noise_sweep_figure.py"


# The spread of an ensemble (training.ensemble): calibration on the validation years, the
# members' own errors, spread maps and reliability diagram (gravsep.evaluation.calibrate).
rule calibration:
    input:
        dataset=samples_h5,
        predictions="results/models/{model}/predictions.h5",
    output:
        calibration="results/models/{model}/calibration.csv",
        members="results/models/{model}/members.csv",
        spread_maps=model_figure("spread_maps", "Ensemble", "spread and error maps"),
        reliability=model_figure("reliability", "Ensemble", "reliability diagram"),
    log:
        "results/logs/calibration/{model}.log",
    benchmark:
        "results/benchmarks/calibration/{model}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    params:
        model="{model}",
        variance_scaling=config["evaluation"]["calibration"]["variance_scaling"],
        floor=config["evaluation"]["calibration"]["floor"],
    script:
        "../workflow/scripts/calibration.py"


rule calibration_table:
    input:
        expand("results/models/{model}/calibration.csv", model=ENSEMBLES),
    output:
        report_entry(
            "results/calibration.csv",
            "calibration_table",
            category="Metrics",
            labels={"table": "calibration of the ensembles' spread (CSV)"},
        ),
    log:
        "results/logs/calibration_table.log",
    benchmark:
        "results/benchmarks/calibration_table.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    script:
        "../workflow/scripts/calibration_table.py"
