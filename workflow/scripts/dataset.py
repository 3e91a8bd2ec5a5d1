"""Input-target pairs of one dataset definition (rule dataset)."""

from itertools import product

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.dataset.build import build_dataset

ds = sm.params.definition
years = sorted(set(ds["train_years"]) | set(ds["validation_years"]) | set(ds["test_years"]))
# the rule's input is expand(comp=..., year=...): components outer, years inner
stores = dict(zip(product(sm.params.components, years), sm.input.anomalies, strict=True))
build_dataset(
    stores, sm.output[0], sm.params.components, years, ds, ds["nmax_flt"], ds["unit"],
    ds["extent"], ds["sampling"], ds["random_samples"], seed=ds.get("random_seed", 0),
    dtype=ds["storage_dtype"], noise=ds.get("noise"), deltat=sm.params.deltat,
)  # fmt: skip
log.info("wrote %s", sm.output[0])
