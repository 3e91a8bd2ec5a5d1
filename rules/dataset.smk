# Dataset: input-target pairs of one dataset definition, shared by every model that uses it.


rule dataset:
    input:
        anomalies=dataset_anomalies,
        noise_files=dataset_noise_files,
    output:
        "results/datasets/{dataset}/samples.h5",
    log:
        "results/logs/dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/dataset/{dataset}.tsv"
    conda:
        "../envs/cpu.yaml"
    container:
        config["containers"]["cpu"]
    resources:
        mem_mb=4000,
    params:
        definition=lambda wc: DATASETS[wc.dataset],
        components=COMPONENTS,
        deltat=lambda wc: dataset_deltat(DATASETS[wc.dataset]),
    script:
        "../workflow/scripts/dataset.py"
