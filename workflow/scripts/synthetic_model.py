"""Build the synthetic Earth System Model and save it to HDF5 (rule synthetic_model)."""

import time

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.synthetic.model import build_model, save_model, summary

start = time.perf_counter()
model = build_model(
    years=[int(y) for y in sm.params.years],
    nmax=int(sm.params.nmax),
    seed=int(sm.params.seed),
    scale={k: float(v) for k, v in dict(sm.params.scale).items()},
    shapefile=sm.input.shapefile,
)
save_model(model, sm.output[0])
log.info(
    "synthetic model: years %s, degree %d, seed %d, %d epochs, built in %.1f s",
    list(model.years),
    model.nmax,
    model.seed,
    model.epochs.size,
    time.perf_counter() - start,
)
for letter, stats in summary(model).items():
    log.info(
        "%s: %d modes; RMS EWH (global, %d) %.2f mm, about the year mean %.2f mm, weekly %.2f mm",
        letter,
        model[letter].modes.shape[0],
        model.years[0],
        1000 * stats["rms"],
        1000 * stats["rms_about_year_mean"],
        1000 * stats["rms_weekly_about_year_mean"],
    )
