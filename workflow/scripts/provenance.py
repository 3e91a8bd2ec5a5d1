"""The provenance of the run (rule provenance).

Writes the resolved configuration record, the provenance record (containers, SHA-256 of the
input archives, per-rule runtimes), a human-readable page of both, a snapshot of the workflow
definition, and the Workflow Run RO-Crate metadata of the run (crate root: ``results/``).
"""

import datetime as dt
from pathlib import Path

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep import provenance as prov
from gravsep.plain import plain

p, out = sm.params, sm.output
crate_root = Path(out.crate).parent  # the metadata file lies in the crate's root

record = prov.write_config_record(out.config, p.config, p.models, p.datasets)
log.info("wrote %s (commit %s, dirty %s)", out.config, record["code"]["commit"],
         record["code"]["dirty"])  # fmt: skip

checksums = prov.archive_checksums(sm.input.archives)
runtimes = prov.rule_runtimes(p.benchmarks, exclude=[p.own_benchmark])
start = prov.earliest_start(p.benchmarks, exclude=[p.own_benchmark])
end = dt.datetime.now(dt.UTC)
run = {"start": prov.iso_time(start), "end": prov.iso_time(end)}
provenance = prov.write_provenance_record(
    out.record, p.containers, checksums, runtimes, extra={"run": run, "code": record["code"]}
)
log.info("wrote %s (%d archives, %d rules)", out.record, len(checksums), len(runtimes))

# the copies of the Snakefile and of the rule files it includes
snakefile, *rule_files = prov.snapshot_files(
    [sm.input.snakefile, *sm.input.rule_files], p.repo, out.snapshot
)
configs = prov.snapshot_files(sm.input.configfiles, p.repo, out.snapshot)
prov.write_provenance_html(out.html, plain(record), provenance, crate=out.crate)

hashes = {a: checksums[Path(a).name] for a in sm.input.archives}
hashes.update({str(c): prov.sha256_file(c) for c in configs})
crate = prov.build_run_crate(
    crate_root,
    snakefile,
    inputs=[*sm.input.archives, *configs],
    outputs=[*sm.input.described, out.config, out.record, out.html],
    snakemake_version=record["packages"].get("snakemake"),
    start=start,
    end=end,
    checksums=hashes,
    workflow_parts=rule_files,
)
prov.write_run_crate(crate, crate_root)
log.info("wrote %s", out.crate)
