"""Input-target pairs of one dataset definition (rule dataset)."""

import sys
from itertools import product

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.dataset import build_dataset  # noqa: E402

sm = snakemake  # noqa: F821
log = runlog.setup(sm.log[0])
ds = sm.params.definition
years = sorted(set(ds["train_years"]) | set(ds["validation_years"]) | set(ds["test_years"]))
# the rule's input is expand(comp=..., year=...): components outer, years inner
stores = dict(zip(product(sm.params.components, years), sm.input, strict=True))
build_dataset(
    stores, sm.output[0], sm.params.components, years, ds, ds["nmax_flt"], ds["unit"],
    ds["extent"], ds["sampling"], ds["random_samples"], seed=ds.get("random_seed", 0),
    dtype=ds["storage_dtype"],
)  # fmt: skip
log.info("wrote %s", sm.output[0])
