"""The model's separation of the prepared Level-2 samples (rule apply_predict)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.network.inference import predict

predict(
    sm.input.model,  # one path, or an ensemble's members (predict takes either)
    sm.input.samples,
    sm.output[0],
    inference_mode=sm.params.inference_mode,
    batch_size=sm.params.batch_size,
    parameters_path=sm.input.parameters,
    model_name=sm.params.model,
    threads=sm.threads,
    mc_passes=sm.params.ensemble.get("mc_passes", 1),
)
