"""Download one ESA ESM archive from the FTP server (rule download)."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/..")  # noqa: F821 (the gravsep package)
from gravsep import runlog  # noqa: E402
from gravsep.download import download, password_from_env  # noqa: E402

log = runlog.setup(snakemake.log[0])  # noqa: F821
p = snakemake.params  # noqa: F821
dest = Path(snakemake.output[0])  # noqa: F821
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
