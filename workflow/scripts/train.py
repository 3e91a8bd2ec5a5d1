"""Snakemake script of rule ``train``: train one model's U-Net (see gravsep.network.training).

Optional output ``tensorboard`` (a directory): TensorBoard event files. On SIGTERM the job ends
with status 143 and keeps the resume state of its last completed epoch.
"""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.network.training import train

train(
    sm.input.dataset,
    sm.params.network,
    sm.params.training,
    weights_path=sm.output.weights,
    model_path=sm.output.model,
    log_path=sm.output.log_h5,
    params_path=sm.output.params,
    threads=sm.threads,
    model_name=sm.params.model,
    tensorboard_dir=getattr(sm.output, "tensorboard", None),
)
