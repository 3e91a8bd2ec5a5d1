"""Predictions of a trained model for a dataset (rule predict; rule predict_on: another dataset).

An ensemble's members (several ``model`` inputs) are predicted together: their mean and
spread (gravsep.network.inference).
"""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.network.inference import predict

predict(
    sm.input.model,  # one path, or an ensemble's members (predict takes either)
    sm.input.dataset,
    sm.output[0],
    inference_mode=sm.params.inference_mode,
    batch_size=sm.params.batch_size,
    parameters_path=sm.input.parameters,
    threads=sm.threads,
    mc_passes=sm.params.ensemble.get("mc_passes", 1),
)
