"""apt-get for the tests that install what they need (Chromium, SLURM, netcdf-bin).

Parallel test workers may install at the same moment; apt-get refuses a second caller while
the first holds the dpkg lock. :func:`apt_get` takes a file lock shared by every caller of
this module first, and asks apt-get itself to wait for dpkg's lock (``DPkg::Lock::Timeout``)
in case something else holds it.
"""

import contextlib
import fcntl
import os
import subprocess

LOCK = "/tmp/gravsep-apt.lock"


@contextlib.contextmanager
def _locked():
    with open(LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def apt_get(*args, timeout=600):
    """``apt-get <args>`` non-interactively under the shared lock; the CompletedProcess (text).

    Raises
    ------
    subprocess.TimeoutExpired
        When apt-get runs longer than ``timeout`` seconds (waiting for the lock not counted).
    """
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "-o", f"DPkg::Lock::Timeout={timeout}", *args]
    with _locked():
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)  # fmt: skip


def install(*packages, timeout=600):
    """``apt-get install`` of ``packages``; on failure the package lists are updated once and
    the install retried (stale lists). The last CompletedProcess."""
    args = ("install", "-y", "--no-install-recommends", *packages)
    result = apt_get(*args, timeout=timeout)
    if result.returncode != 0:
        apt_get("update", timeout=timeout)
        result = apt_get(*args, timeout=timeout)
    return result
