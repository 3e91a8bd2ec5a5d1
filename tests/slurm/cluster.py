"""A real single-node SLURM cluster on 127.0.0.1, for the profile test (tests/test_slurm.py).

Debian's slurm-wlm with munge, and slurmdbd on MariaDB so that ``sacct`` works; one node with
two partitions (``cpu`` and ``gpu``, as profiles/slurm names them) and one generic resource
``gpu`` backed by a fake character device (a copy of /dev/null made with mknod).

Everything (keys, databases, state, logs, pid files) lives in one folder; only the
configuration files are linked into /etc/slurm, because Snakemake's jobstep plugin removes
``SLURM_CONF`` before its inner ``srun`` and the daemons find slurmdbd.conf and gres.conf
beside slurm.conf. Files already there are moved aside and put back by :func:`stop`.

Needs root (it installs packages and runs the daemons as root); a disposable machine only.

Command line::

    python tests/slurm/cluster.py start [--dir DIR]   # install if missing, start, wait idle
    python tests/slurm/cluster.py stop  [--dir DIR]   # stop daemons by pid, reverse order
"""

import argparse
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a script
import apt_helpers  # noqa: E402

PACKAGES = ["slurm-wlm", "munge", "slurmdbd", "mariadb-server"]
#: Binaries the packages provide; all present = nothing to install.
BINARIES = ["munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd",
            "sbatch", "sacct", "sacctmgr", "sinfo", "scontrol", "squeue", "scancel"]  # fmt: skip
SLURM_ETC = Path("/etc/slurm")
CONF_FILES = ["slurm.conf", "gres.conf", "slurmdbd.conf"]
#: Daemons in start order; stopped in reverse.
DAEMONS = ["munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd"]
CLUSTER = "gravsep"
ACCOUNT = "gravsep"
DEFAULT_DIR = Path(os.environ.get("GRAVSEP_SLURM_DIR", "/tmp/gravsep-slurm"))


class ClusterUnavailable(RuntimeError):
    """The cluster cannot be set up on this machine (not root, packages not installable)."""


class ClusterError(RuntimeError):
    """The cluster was installable but did not come up; the message quotes the logs."""


def _log(msg):
    print(f"[slurm-cluster] {msg}", file=sys.stderr, flush=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(what, predicate, timeout, logs=()):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.25)
    tails = "".join(f"\n--- {p} ---\n{_tail(p)}" for p in logs)
    raise ClusterError(f"timed out after {timeout} s waiting for {what}{tails}")


def _tail(path, n=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError as err:
        return f"(unreadable: {err})"


def _run(cmd, env=None, timeout=120, check=True):
    res = subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise ClusterError(f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n"
                           f"{res.stdout}\n{res.stderr}")  # fmt: skip
    return res


def install():
    """Install the packages with apt-get when a binary is missing."""
    missing = [b for b in BINARIES if not _which(b)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable(f"not root, and {', '.join(missing)} missing")
    if not shutil.which("apt-get"):
        raise ClusterUnavailable(f"no apt-get to install {', '.join(missing)}")
    _log(f"installing {' '.join(PACKAGES)} (missing: {', '.join(missing)})")
    try:
        res = apt_helpers.install(*PACKAGES, timeout=600)
    except subprocess.TimeoutExpired as err:
        raise ClusterUnavailable(f"apt-get timed out: {err}") from None
    if res.returncode != 0:
        raise ClusterUnavailable(f"apt-get install failed ({res.returncode}): "
                                 f"{res.stderr.strip()[-800:]}")  # fmt: skip
    still = [b for b in BINARIES if not _which(b)]
    if still:
        raise ClusterUnavailable(f"after apt-get install, still missing: {', '.join(still)}")


def _which(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


class Cluster:
    """Paths and settings of the test cluster in ``base``."""

    def __init__(self, base=DEFAULT_DIR, cpus=None, real_memory=None):
        """``cpus`` and ``real_memory`` (MB): what the node advertises; by default what the
        machine has. Larger values (so that a profile's requests fit a small test machine)
        make slurmd trust the configuration (``SlurmdParameters=config_overrides``); jobs then
        share the real cores, which changes nothing but speed."""
        self.base = Path(base).resolve()
        self.real_cpus = os.cpu_count() or 1
        self.real_memory = max(
            1000, int(Path("/proc/meminfo").read_text().split()[1]) // 1024 - 1024
        )
        self.cpus = int(cpus or self.real_cpus)
        self.memory = int(real_memory or self.real_memory)
        self.etc = self.base / "etc"
        self.run = self.base / "run"
        self.logs = self.base / "log"
        self.node = socket.gethostname().split(".")[0]
        self.munge_socket = self.run / "munge.socket"
        self.db_socket = self.run / "mariadb.sock"
        self.gpu_device = self.base / "dev" / "nvidia0"

    def pidfile(self, daemon):
        return self.run / f"{daemon}.pid"

    def logfile(self, daemon):
        return self.logs / f"{daemon}.log"

    @property
    def env(self):
        """Environment for client commands (sbatch, sacct, ...): the default config path."""
        env = dict(os.environ)
        env.pop("SLURM_CONF", None)
        env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/sbin"
        return env

    # --- configuration -------------------------------------------------------------------

    def _write_configs(self, ports):
        sock = self.munge_socket
        overrides = self.cpus > self.real_cpus or self.memory > self.real_memory
        node = (f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} "
                f"RealMemory={self.memory} Gres=gpu:1 State=UNKNOWN")  # fmt: skip
        slurm_conf = f"""\
# Test cluster written by tests/slurm/cluster.py (state in {self.base}).
ClusterName={CLUSTER}
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={ports["slurmctld"]}
SlurmdPort={ports["slurmd"]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
StateSaveLocation={self.base / "state"}
SlurmdSpoolDir={self.base / "spool"}
SlurmctldPidFile={self.pidfile("slurmctld")}
SlurmdPidFile={self.pidfile("slurmd")}
SlurmctldLogFile={self.logfile("slurmctld")}
SlurmdLogFile={self.logfile("slurmd")}
SlurmctldDebug=info
SlurmdDebug=info
{"SlurmdParameters=config_overrides" if overrides else ""}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
MailProg=/bin/true
ReturnToService=2
MinJobAge=300
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports["slurmdbd"]}
AccountingStoragePass={sock}
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
JobCompType=jobcomp/none
AccountingStoreFlags=job_comment
{node}
PartitionName=cpu Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={self.node} MaxTime=INFINITE State=UP
"""
        gres_conf = f"AutoDetect=off\nNodeName={self.node} Name=gpu File={self.gpu_device}\n"
        dbd_conf = f"""\
AuthType=auth/munge
AuthInfo=socket={sock}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={ports["slurmdbd"]}
SlurmUser=root
PidFile={self.pidfile("slurmdbd")}
LogFile={self.logfile("slurmdbd")}
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports["mariadbd"]}
StorageUser=slurm
StoragePass=slurmtest
StorageLoc=slurm_acct_db
"""
        for name, text in [("slurm.conf", slurm_conf), ("gres.conf", gres_conf),
                           ("slurmdbd.conf", dbd_conf)]:  # fmt: skip
            path = self.etc / name
            path.write_text(text)
            path.chmod(0o600 if name == "slurmdbd.conf" else 0o644)

    def _link_configs(self):
        """Link the configs into /etc/slurm; move files already there aside (restored by stop)."""
        SLURM_ETC.mkdir(parents=True, exist_ok=True)
        for name in CONF_FILES:
            target = SLURM_ETC / name
            if target.is_symlink():
                target.unlink()
            elif target.exists():
                backup = self.base / "etc-backup" / name
                backup.parent.mkdir(exist_ok=True)
                shutil.move(target, backup)
            target.symlink_to(self.etc / name)

    def _unlink_configs(self):
        for name in CONF_FILES:
            target = SLURM_ETC / name
            if target.is_symlink() and Path(os.readlink(target)) == self.etc / name:
                target.unlink()
            backup = self.base / "etc-backup" / name
            if backup.exists() and not target.exists():
                shutil.move(backup, target)

    # --- daemons -------------------------------------------------------------------------

    def _start_munged(self):
        key = self.base / "munge" / "munge.key"
        key.parent.mkdir(mode=0o700, exist_ok=True)
        key.write_bytes(secrets.token_bytes(1024))
        key.chmod(0o400)
        _run([_which("munged"), "--force", f"--socket={self.munge_socket}",
              f"--key-file={key}", f"--pid-file={self.pidfile('munged')}",
              f"--log-file={self.logfile('munged')}",
              f"--seed-file={self.base / 'munge' / 'munged.seed'}"])  # fmt: skip
        _wait("munged", lambda: self.munge_socket.exists(), 15, [self.logfile("munged")])

    def _start_mariadbd(self, port):
        datadir = self.base / "mysql"
        _run([_which("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}",
              "--user=root", "--auth-root-authentication-method=normal",
              "--skip-test-db"], timeout=180)  # fmt: skip
        log = open(self.logfile("mariadbd"), "ab")
        subprocess.Popen(
            [_which("mariadbd"), "--no-defaults", f"--datadir={datadir}", "--user=root",
             "--bind-address=127.0.0.1", f"--port={port}", f"--socket={self.db_socket}",
             f"--pid-file={self.pidfile('mariadbd')}", "--skip-log-bin",
             "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
             "--innodb-flush-log-at-trx-commit=2"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        _wait("mariadbd", lambda: _port_open(port) and self.pidfile("mariadbd").exists(), 60,
              [self.logfile("mariadbd")])  # fmt: skip
        sql = ("CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmtest';"
               "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmtest';"
               "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
               "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
               "FLUSH PRIVILEGES;")  # fmt: skip
        client = _which("mariadb") or _which("mysql")
        _run([client, "--no-defaults", f"--socket={self.db_socket}", "-uroot", "-e", sql])

    def _start_slurmdbd(self, port):
        _run([_which("slurmdbd")], env=self.env)
        _wait("slurmdbd", lambda: _port_open(port), 60, [self.logfile("slurmdbd")])

    def _accounts(self):
        sacctmgr = [_which("sacctmgr"), "-i"]
        user = os.environ.get("USER") or "root"
        users = sorted({"root", user})
        for args in (["add", "cluster", CLUSTER],
                     ["add", "account", ACCOUNT, f"cluster={CLUSTER}",
                      "description=gravsep test", "organization=gravsep"],
                     ["add", "user", ",".join(users), f"account={ACCOUNT}",
                      f"cluster={CLUSTER}", f"defaultaccount={ACCOUNT}"]):  # fmt: skip
            res = _run(sacctmgr + args, env=self.env, check=False)
            if res.returncode != 0 and "already exists" not in (res.stdout + res.stderr).lower():
                # sacctmgr -i answers 1 with "Nothing new added" for existing entries
                if "nothing new" not in (res.stdout + res.stderr).lower():
                    raise ClusterError(f"sacctmgr {' '.join(args)}: {res.stdout}{res.stderr}")

    def _start_slurmctld(self):
        _run([_which("slurmctld"), "-c"], env=self.env)  # -c: clear old job state
        _wait("slurmctld", lambda: _run([_which("scontrol"), "ping"], env=self.env,
                                        check=False).stdout.count("UP") > 0, 30,
              [self.logfile("slurmctld")])  # fmt: skip

    def _start_slurmd(self):
        _run([_which("slurmd")], env=self.env)

    def node_state(self):
        res = _run([_which("sinfo"), "-h", "-N", "-n", self.node, "-o", "%T"], env=self.env,
                   check=False)  # fmt: skip
        return res.stdout.strip().split("\n")[0] if res.returncode == 0 else ""

    def _cancel_jobs(self):
        """Cancel the jobs still queued or running (an interrupted test), so that no job step
        outlives slurmd."""
        try:
            pid = int(self.pidfile("slurmctld").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if not _alive(pid, "slurmctld") or not (SLURM_ETC / "slurm.conf").exists():
            return
        res = _run([_which("squeue"), "-h", "-o", "%i"], env=self.env, check=False, timeout=20)
        ids = res.stdout.split() if res.returncode == 0 else []
        if not ids:
            return
        _run([_which("scancel"), *ids], env=self.env, check=False, timeout=20)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            res = _run([_which("squeue"), "-h", "-o", "%i"], env=self.env, check=False,
                       timeout=20)  # fmt: skip
            if res.returncode != 0 or not res.stdout.split():
                break
            time.sleep(0.5)

    # --- public --------------------------------------------------------------------------

    def start(self):
        """Install if needed, write the configuration, start every daemon, wait for idle."""
        if os.geteuid() != 0:
            raise ClusterUnavailable("not root: the test cluster runs its daemons as root")
        install()
        t0 = time.monotonic()
        self.stop(quiet=True)  # leftovers of an interrupted run in the same folder
        if self.base.exists():
            shutil.rmtree(self.base)
        for sub in ("etc", "run", "log", "state", "spool", "mysql", "munge", "dev"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        # munged refuses group/other-writable parents of its socket and files
        for path in [self.base, *self.base.iterdir()]:
            path.chmod(0o755)
        (self.base / "munge").chmod(0o700)
        try:
            os.mknod(self.gpu_device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except OSError as err:
            raise ClusterUnavailable(
                f"cannot make the fake GPU device (mknod c 1 3): {err}"
            ) from err
        ports = {name: _free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mariadbd")}
        self._write_configs(ports)
        self._link_configs()
        (self.base / "ports").write_text(" ".join(f"{k}={v}" for k, v in ports.items()))
        try:
            self._start_munged()
            self._start_mariadbd(ports["mariadbd"])
            self._start_slurmdbd(ports["slurmdbd"])
            self._accounts()
            self._start_slurmctld()
            self._start_slurmd()
            _wait("the node to be idle", lambda: self.node_state() == "idle", 60,
                  [self.logfile("slurmctld"), self.logfile("slurmd")])  # fmt: skip
        except Exception:
            self.stop(quiet=True)
            raise
        _log(f"cluster up in {time.monotonic() - t0:.1f} s (node {self.node}, {self.base})")

    def stop(self, quiet=False):
        """Cancel leftover jobs, stop the daemons by pid in reverse start order, restore
        /etc/slurm."""
        self._cancel_jobs()
        for daemon in reversed(DAEMONS):
            pidfile = self.pidfile(daemon)
            try:
                pid = int(pidfile.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if not _alive(pid, daemon):
                continue
            os.kill(pid, signal.SIGTERM)
            end = time.monotonic() + 20
            while _alive(pid, daemon) and time.monotonic() < end:
                time.sleep(0.1)
            if _alive(pid, daemon):
                if not quiet:
                    _log(f"{daemon} (pid {pid}) ignored SIGTERM; SIGKILL")
                os.kill(pid, signal.SIGKILL)
            elif not quiet:
                _log(f"stopped {daemon} (pid {pid})")
        if self.etc.exists():
            self._unlink_configs()


def _alive(pid, name):
    """Whether ``pid`` still runs and is ``name`` (not a recycled pid); zombies count as gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    comm = text[text.index("(") + 1 : text.rindex(")")]
    state = text[text.rindex(")") + 2 :].split()[0]
    return state != "Z" and comm == name[:15]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--dir", default=str(DEFAULT_DIR), help="folder of the cluster state")
    parser.add_argument("--cpus", type=int, help="CPUs the node advertises [the machine's]")
    parser.add_argument("--memory", type=int, help="MB the node advertises [the machine's]")
    args = parser.parse_args(argv)
    cluster = Cluster(args.dir, cpus=args.cpus, real_memory=args.memory)
    try:
        cluster.start() if args.action == "start" else cluster.stop()
    except ClusterUnavailable as err:
        print(f"SLURM test cluster unavailable: {err}", file=sys.stderr)
        return 2
    except ClusterError as err:
        print(f"SLURM test cluster failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
