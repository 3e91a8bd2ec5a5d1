# Train: one multi-channel U-Net per named model; the only step that wants a GPU.


rule train:
    input:
        dataset=samples_h5,
    output:
        weights="results/models/{model}/checkpoints/best.weights.h5",
        model="results/models/{model}/model.keras",
        log_h5="results/models/{model}/training_log.h5",
        params="results/models/{model}/parameters.yaml",
        tensorboard=directory("results/models/{model}/tensorboard"),
    log:
        "results/logs/train/{model}.log",
    benchmark:
        "results/benchmarks/train/{model}.tsv"
    conda:
        "../envs/gpu.yaml"
    container:
        config["containers"]["gpu"]
    threads: 2
    resources:
        mem_mb=4000,
    params:
        model="{model}",
        network=model_setting("network"),
        training=model_setting("training"),
    script:
        "../workflow/scripts/train.py"


rule predict:
    input:
        model="results/models/{model}/model.keras",
        parameters="results/models/{model}/parameters.yaml",
        dataset=samples_h5,
    output:
        "results/models/{model}/predictions.h5",
    log:
        "results/logs/predict/{model}.log",
    benchmark:
        "results/benchmarks/predict/{model}.tsv"
    conda:
        "../envs/gpu.yaml"
    container:
        config["containers"]["gpu"]
    threads: 2
    resources:
        mem_mb=4000,
    params:
        inference_mode=model_setting("training", "inference_mode"),
        batch_size=model_setting("training", "batch_size"),
    script:
        "../workflow/scripts/predict.py"


# A model's predictions of another model's dataset (evaluation.cross, evaluation.noise_sweep).
rule predict_on:
    input:
        model="results/models/{model}/model.keras",
        parameters="results/models/{model}/parameters.yaml",
        dataset="results/datasets/{dataset}/samples.h5",
    output:
        temp("results/models/{model}/on/{dataset}/predictions.h5"),
    log:
        "results/logs/predict_on/{model}/{dataset}.log",
    benchmark:
        "results/benchmarks/predict_on/{model}/{dataset}.tsv"
    conda:
        "../envs/gpu.yaml"
    container:
        config["containers"]["gpu"]
    threads: 2
    resources:
        mem_mb=4000,
    params:
        inference_mode=model_setting("training", "inference_mode"),
        batch_size=model_setting("training", "batch_size"),
    script:
        "../workflow/scripts/predict.py"
