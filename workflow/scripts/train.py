"""Snakemake script of rule ``train``: train one model's U-Net (see gravsep.training).

Optional output ``tensorboard`` (a directory): TensorBoard event files. On SIGTERM the job ends
with status 143 and keeps the resume state of its last completed epoch.
"""

import gravsep.runlog

log = gravsep.runlog.setup(snakemake.log[0])  # noqa: F821

from gravsep.training import train  # noqa: E402 (TensorFlow loads after the log is set up)

train(
    snakemake.input.dataset,  # noqa: F821
    snakemake.params.network,  # noqa: F821
    snakemake.params.training,  # noqa: F821
    weights_path=snakemake.output.weights,  # noqa: F821
    model_path=snakemake.output.model,  # noqa: F821
    log_path=snakemake.output.log_h5,  # noqa: F821
    params_path=snakemake.output.params,  # noqa: F821
    threads=snakemake.threads,  # noqa: F821
    model_name=snakemake.params.model,  # noqa: F821
    tensorboard_dir=getattr(snakemake.output, "tensorboard", None),  # noqa: F821
)
