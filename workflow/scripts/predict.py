"""Snakemake script of rule ``predict``: predictions of a trained model for every year."""

import gravsep.runlog

log = gravsep.runlog.setup(snakemake.log[0])  # noqa: F821

from gravsep.inference import predict  # noqa: E402 (TensorFlow loads after the log is set up)

predict(
    snakemake.input.model,  # noqa: F821
    snakemake.input.dataset,  # noqa: F821
    snakemake.output[0],  # noqa: F821
    inference_mode=snakemake.params.inference_mode,  # noqa: F821
    batch_size=snakemake.params.batch_size,  # noqa: F821
    parameters_path=snakemake.input.parameters,  # noqa: F821
    threads=snakemake.threads,  # noqa: F821
)
