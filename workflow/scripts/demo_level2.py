"""The embedded demonstration's Level-2 files and truth (rule demo_level2)."""

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.level2.demo import write_demo

written = write_demo(
    sm.input.shapefile, sm.params.folder, sm.params.truth_folder, sm.params.components,
    sm.params.nmax, sm.params.seed, dict(sm.params.scale), dict(sm.params.demo),
)  # fmt: skip
log.info(
    "wrote %d GSM files, %s, %s and %d truth stores",
    len(written["gsm"]), written["tn13"], written["tn14"], len(written["truth"]),
)  # fmt: skip
