"""Download one ESA ESM archive from the FTP server (rule download)."""

from pathlib import Path

from gravsep import runlog

sm = snakemake
log = runlog.setup(sm.log[0])

from gravsep.ingest.download import download, password_from_env

p = sm.params
dest = Path(sm.output[0])
download(
    host=p.host,
    port=int(p.port),
    directory=p.directory,
    filename=dest.name,
    dest=dest,
    user=p.user,
    password=password_from_env(p.password_env),  # never logged
    retries=int(p.retries),
    timeout=float(p.timeout),
)
log.info("downloaded %s (%d bytes)", dest, dest.stat().st_size)
