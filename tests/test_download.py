"""FTP download with retry and resume (gravsep.ingest.download) against a local pyftpdlib server."""

import gzip
import io
import logging
import socket
import tarfile
import threading
import time

import numpy as np
import pytest

pytest.importorskip("pyftpdlib")
from ftp_helpers import serving  # noqa: E402
from gravsep.atomic import temporary_path
from gravsep.formats.archive import archive_name, unpack_archive, write_archive, year_epochs  # noqa: E402
from gravsep.formats.icgem import format_icgem  # noqa: E402
from gravsep.ingest import download as dl  # noqa: E402
from gravsep.ingest.download import DownloadError, download, password_from_env, verify_gzip  # noqa: E402
from pyftpdlib.authorizers import DummyAuthorizer  # noqa: E402
from pyftpdlib.handlers import DTPHandler, FTPHandler  # noqa: E402
from pyftpdlib.servers import ThreadedFTPServer  # noqa: E402

LETTER, YEAR = "A", 1995
DIRECTORY = "/ESAESM/mtmshc/"
PASSWORD = "s3cret-Pa55"


class State:
    """What the server does wrong next, and what it saw (shared with the server threads)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.cut_at = None  # drop the next data transfer after this many bytes
        self.mode = "abort"  # abort (426), hangup (control closed too), stall (then abort)
        self.stall_s = 0.0
        self.refuse_rest = False
        self.drops = 0
        self.rests = []  # REST positions received
        self.retrs = 0


STATE = State()


class CuttingDTP(DTPHandler):
    """Data channel that breaks one transfer after STATE.cut_at bytes."""

    def send(self, data):
        with STATE.lock:
            cut = STATE.cut_at
            if cut is not None and self.tot_bytes_sent >= cut:
                STATE.cut_at = None
                STATE.drops += 1
                fire = True
            else:
                fire = False
        if fire:
            if STATE.mode == "stall":
                time.sleep(STATE.stall_s)  # this connection's thread only
            if STATE.mode == "hangup":
                self.cmd_channel.close()  # closes data and control connections
            else:
                self.handle_close()  # data channel closed early: "426 Transfer aborted"
            return 0
        if cut is not None:
            data = data[: cut - self.tot_bytes_sent]
        return super().send(data)


class Handler(FTPHandler):
    dtp_handler = CuttingDTP
    use_sendfile = False  # so that every byte goes through CuttingDTP.send
    banner = "gravsep test server"

    def ftp_REST(self, line):
        if STATE.refuse_rest:
            self.respond("502 Command not implemented.")
            return None
        with STATE.lock:
            STATE.rests.append(int(line))
        return super().ftp_REST(line)

    def ftp_RETR(self, file):
        with STATE.lock:
            STATE.retrs += 1
        return super().ftp_RETR(file)


class Server(ThreadedFTPServer):
    poll_timeout = 0.05  # worker threads notice the shutdown quickly


def make_archive(path, letter, year, seed=0):
    rng = np.random.default_rng(seed)
    files = [
        (e, format_icgem(rng.normal(size=(2, 3, 3)) * np.tri(3), modelname=str(e)))
        for e in year_epochs(year)
    ]
    write_archive(path, letter, year, files)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A read-only anonymous FTP server on 127.0.0.1 holding small synthetic archives."""
    root = tmp_path_factory.mktemp("ftproot")
    folder = root / DIRECTORY.strip("/")
    folder.mkdir(parents=True)
    good = make_archive(folder / archive_name(YEAR, LETTER), LETTER, YEAR)
    data = good.read_bytes()
    # truncated and corrupted copies (their SIZE is what the server has: only gzip can tell)
    (folder / archive_name(YEAR, "O")).write_bytes(data[: len(data) - 200])
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0xFF
    (folder / archive_name(YEAR, "H")).write_bytes(bytes(bad))

    auth = DummyAuthorizer()
    auth.add_anonymous(str(root))  # read-only: "elr"
    auth.add_user("gravsep", PASSWORD, str(root), perm="elr")
    handler = type(
        "TestHandler", (Handler,), {"authorizer": auth, "timeout": 30, "auth_failed_timeout": 0.05}
    )
    srv = Server(("127.0.0.1", 0), handler)
    with serving(srv) as port:
        yield {"host": srv.address[0], "port": port, "data": data}


@pytest.fixture
def ftp(server):
    STATE.reset()
    kw = {"host": server["host"], "port": server["port"], "directory": DIRECTORY}
    kw |= {"retries": 3, "timeout": 5, "backoff": 0.01}
    return kw, server["data"]


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_full_download(ftp, tmp_path):
    kw, data = ftp
    calls = []
    dest = tmp_path / "sub" / archive_name(YEAR, LETTER)
    out = download(filename=dest.name, dest=dest, progress=lambda d, t: calls.append((d, t)), **kw)
    assert out == dest
    assert dest.read_bytes() == data
    assert leftovers(dest.parent) == [dest.name]  # no partial file left
    assert STATE.rests == [] and STATE.retrs == 1
    assert calls and calls[-1] == (len(data), len(data))
    assert all(a[0] < b[0] for a, b in zip(calls, calls[1:], strict=False))


@pytest.mark.parametrize("mode", ["abort", "hangup"])
def test_resume_after_drop(ftp, tmp_path, mode):
    kw, data = ftp
    STATE.cut_at, STATE.mode = len(data) // 3, mode
    dest = tmp_path / archive_name(YEAR, LETTER)
    download(filename=dest.name, dest=dest, **kw)
    assert STATE.drops == 1 and STATE.retrs == 2
    assert STATE.rests == [len(data) // 3]  # resumed where the first transfer broke off
    assert dest.read_bytes() == data
    assert leftovers(tmp_path) == [dest.name]


def test_resume_after_timeout(ftp, tmp_path):
    kw, data = ftp
    STATE.cut_at, STATE.mode, STATE.stall_s = 5000, "stall", 1.0
    kw["timeout"] = 0.3  # the client gives up on the stalled data connection
    dest = tmp_path / archive_name(YEAR, LETTER)
    download(filename=dest.name, dest=dest, **kw)
    assert STATE.drops == 1 and STATE.rests == [5000]
    assert dest.read_bytes() == data


def test_resume_from_part_of_earlier_run(ftp, tmp_path):
    kw, data = ftp
    dest = tmp_path / archive_name(YEAR, LETTER)
    temporary_path(dest).write_bytes(data[:12345])
    download(filename=dest.name, dest=dest, **kw)
    assert STATE.rests == [12345] and STATE.retrs == 1
    assert dest.read_bytes() == data
    assert leftovers(tmp_path) == [dest.name]


def test_part_larger_than_remote_restarts(ftp, tmp_path):
    kw, data = ftp
    dest = tmp_path / archive_name(YEAR, LETTER)
    temporary_path(dest).write_bytes(data + b"junk")
    download(filename=dest.name, dest=dest, **kw)
    assert STATE.rests == []
    assert dest.read_bytes() == data


def test_rest_refused_starts_again(ftp, tmp_path):
    kw, data = ftp
    STATE.cut_at, STATE.refuse_rest = 7000, True
    dest = tmp_path / archive_name(YEAR, LETTER)
    download(filename=dest.name, dest=dest, **kw)
    assert STATE.drops == 1 and STATE.rests == []
    assert dest.read_bytes() == data


def test_missing_archive(ftp, tmp_path, monkeypatch):
    kw, _ = ftp
    sleeps = []
    monkeypatch.setattr(dl, "_sleep", sleeps.append)
    name = archive_name(2099, LETTER)
    dest = tmp_path / name
    temporary_path(tmp_path / name).write_bytes(b"stale")
    with pytest.raises(DownloadError) as err:
        download(filename=name, dest=dest, **kw)
    msg = str(err.value)
    assert name in msg and DIRECTORY in msg and kw["host"] in msg and "550" in msg
    assert leftovers(tmp_path) == []  # nothing at dest, no partial file
    assert sleeps == []  # a permanent error is not retried


def test_missing_folder(ftp, tmp_path):
    kw, _ = ftp
    kw["directory"] = "/nowhere/"
    with pytest.raises(DownloadError, match="no folder '/nowhere/'"):
        download(filename=archive_name(YEAR, LETTER), dest=tmp_path / "x.tar.gz", **kw)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("letter", "what"), [("O", "truncated"), ("H", "corrupted")])
def test_bad_gzip_on_server(ftp, tmp_path, letter, what):
    kw, _ = ftp
    name = archive_name(YEAR, letter)
    with pytest.raises(DownloadError, match="corrupt or truncated gzip") as err:
        download(filename=name, dest=tmp_path / name, **kw)
    assert name in str(err.value), what
    assert leftovers(tmp_path) == []
    assert STATE.retrs == 1  # the transfer itself was fine: not retried


def test_round_trip_with_unpack(ftp, tmp_path):
    kw, _ = ftp
    STATE.cut_at = 30000
    dest = download(
        filename=archive_name(YEAR, LETTER), dest=tmp_path / archive_name(YEAR, LETTER), **kw
    )
    files = unpack_archive(dest, tmp_path / "unpacked", LETTER, YEAR)
    assert len(files) == len(year_epochs(YEAR)) == 365 * 4
    assert files[0].name == "mtmshc_A_19950101_00.180"
    assert "end_of_head" in files[0].read_text()


def test_password_login_not_logged(ftp, tmp_path, caplog):
    kw, data = ftp
    caplog.set_level(logging.DEBUG)
    dest = tmp_path / archive_name(YEAR, LETTER)
    download(filename=dest.name, dest=dest, user="gravsep", password=PASSWORD, **kw)
    assert dest.read_bytes() == data
    assert "gravsep@" in caplog.text
    assert PASSWORD not in caplog.text


def test_wrong_password_not_retried(ftp, tmp_path, monkeypatch):
    kw, _ = ftp
    sleeps = []
    monkeypatch.setattr(dl, "_sleep", sleeps.append)
    with pytest.raises(DownloadError, match="login as 'gravsep' refused") as err:
        download(
            filename=archive_name(YEAR, LETTER),
            dest=tmp_path / "x.tar.gz",
            user="gravsep",
            password="wrong-" + PASSWORD,
            **kw,
        )
    assert PASSWORD not in str(err.value)
    assert sleeps == [] and leftovers(tmp_path) == []


def test_gives_up_after_retries(tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr(dl, "_sleep", sleeps.append)
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="giving up after 3 failed attempt"):
        download(
            "127.0.0.1", port, DIRECTORY, "f.tar.gz", tmp_path / "f.tar.gz",
            retries=2, timeout=2, backoff=0.5,
        )  # fmt: skip
    assert sleeps == [0.5, 1.0]  # exponential backoff
    assert leftovers(tmp_path) == []


def test_verify_gzip(tmp_path):
    good = tmp_path / "a.gz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w"):
        pass
    good.write_bytes(gzip.compress(buf.getvalue() + b"x" * 5000))
    verify_gzip(good)
    cut = tmp_path / "b.gz"
    cut.write_bytes(good.read_bytes()[:-4])
    with pytest.raises(DownloadError):
        verify_gzip(cut)
    notgz = tmp_path / "c.gz"
    notgz.write_bytes(b"plain text, not gzip")
    with pytest.raises(DownloadError):
        verify_gzip(notgz)


def test_password_from_env(monkeypatch):
    assert password_from_env("") == ""
    monkeypatch.setenv("GRAVSEP_FTP_PW", "pw")
    assert password_from_env("GRAVSEP_FTP_PW") == "pw"
    monkeypatch.delenv("GRAVSEP_FTP_PW")
    with pytest.raises(DownloadError, match="GRAVSEP_FTP_PW"):
        password_from_env("GRAVSEP_FTP_PW")


def test_progress_log_is_throttled(caplog):
    caplog.set_level(logging.INFO, logger="gravsep.ingest.download")
    quiet = dl._Progress("f.tar.gz", 4000, 0, None, every=3600)
    for _ in range(4):
        quiet.update(1000)
    assert caplog.records == []
    assert quiet.line().startswith("4000 of 4000 bytes (100.0 %), ")
    chatty = dl._Progress("f.tar.gz", 4000, 1000, None, every=0)
    chatty.update(1000)
    assert "2000 of 4000 bytes (50.0 %)" in caplog.text and "MB/s" in caplog.text
