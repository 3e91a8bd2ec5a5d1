"""Download of one ESA ESM archive from an FTP server, with retry, resume and checks.

The transfer goes to ``.tmp-<name>`` beside ``dest`` (:func:`gravsep.atomic.temporary_path`);
a dropped connection or a timeout is retried with exponential backoff and the transfer resumes
with ``REST`` from the size of that partial file. When the partial file has the size that the
server announced (``SIZE``) and its whole gzip stream reads without error, it is renamed to
``dest`` (``os.replace``, atomic): ``dest`` exists only when complete. Permanent errors (5xx
replies: missing file, refused login) are not retried.
The password is never logged; logs name ``user@host`` only.
"""

import ftplib
import gzip
import logging
import os
import posixpath
import time
import zlib
from pathlib import Path

from gravsep.atomic import temporary_path

log = logging.getLogger("gravsep.ingest.download")

BLOCKSIZE = 1 << 16
LOG_EVERY_S = 5.0  # at most one progress line per this many seconds
MAX_DELAY_S = 120.0  # cap of the backoff between attempts
_sleep = time.sleep  # (replaced in tests)

# Errors after which another attempt may succeed: timeouts, resets, closed control
# connections (EOFError from ftplib), 4xx replies, garbled replies.
TRANSIENT = (OSError, EOFError, ftplib.error_temp, ftplib.error_reply, ftplib.error_proto)


class DownloadError(RuntimeError):
    """A download that failed for good; the message names server, folder and file."""


class _Incomplete(Exception):
    """The data connection ended before the announced size (retried)."""


def password_from_env(name):
    """The password held by the environment variable ``name`` (``ftp.password_env``).

    An empty name means anonymous login (empty password). A name that is set in the config
    but missing from the environment is an error rather than a silent anonymous login.
    """
    if not name:
        return ""
    if name not in os.environ:
        raise DownloadError(
            f"environment variable {name!r} (config ftp.password_env) is not set; "
            "export it or leave ftp.password_env empty for anonymous login"
        )
    return os.environ[name]


def _code(err):
    """The three-digit reply code at the start of an ftplib error, or None."""
    text = str(err)
    return int(text[:3]) if text[:3].isdigit() else None


def verify_gzip(path):
    """Read the whole gzip stream of ``path`` (checks every member's CRC and length).

    Raises
    ------
    DownloadError
        Truncated or corrupt data.
    """
    try:
        with gzip.open(path, "rb") as gz:
            while gz.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DownloadError(f"{path}: corrupt or truncated gzip data ({err})") from None


class _Progress:
    """Throttled progress log (bytes, percent, MB/s) and optional callback."""

    def __init__(self, name, total, done, callback, every=LOG_EVERY_S):
        self.name, self.total, self.callback, self.every = name, total, callback, every
        self.start = self.last = time.monotonic()
        self.start_bytes = self.done = done

    def update(self, nbytes):
        self.done += nbytes
        if self.callback is not None:
            self.callback(self.done, self.total)
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            log.info("%s: %s", self.name, self.line(now))

    def line(self, now=None):
        now = time.monotonic() if now is None else now
        rate = (self.done - self.start_bytes) / max(now - self.start, 1e-9) / 1e6
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return f"{self.done} of {self.total} bytes ({pct:.1f} %), {rate:.2f} MB/s"


def download(
    host,
    port,
    directory,
    filename,
    dest,
    user="anonymous",
    password="",
    retries=5,
    timeout=60,
    backoff=2.0,
    progress=None,
):
    """Download ``directory/filename`` from an FTP server to ``dest``.

    Parameters
    ----------
    host, port : str, int
        FTP server; passive mode is used.
    directory, filename : str
        Remote folder and file name (e.g. ``/ESAESM/mtmshc/``, ``mtm_1995_A.tar.gz``).
    dest : path-like
        Local file; created only when the download is complete and checked.
    user, password : str
        Login; ``anonymous`` with an empty password is an anonymous login. The password is
        never logged.
    retries : int
        Retries after transient failures (timeouts, dropped connections, 4xx replies). The
        count starts again after any attempt that brought new bytes, so a long transfer over
        a flaky link is not given up while it progresses.
    timeout : float
        Seconds without an answer or data after which an attempt is given up.
    backoff : float
        Wait before the first retry, in seconds; doubled for each further retry in a row
        (at most ``MAX_DELAY_S``).
    progress : callable or None
        Called as ``progress(bytes_done, bytes_total)`` after every block written.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DownloadError
        Missing file or folder, refused login, other 5xx replies, too many failed attempts,
        a size mismatch or corrupt gzip data. Nothing is left at ``dest`` nor at the partial
        file, except after transient failures, where the partial file is kept to resume from.
    """
    dest = Path(dest)
    part = temporary_path(dest)  # kept after transient failures, to resume from
    dest.parent.mkdir(parents=True, exist_ok=True)
    remote = posixpath.join(directory or "/", filename)
    where = f"ftp://{user}@{host}:{port}{'' if remote.startswith('/') else '/'}{remote}"
    failures, size = 0, None
    while True:
        offset = part.stat().st_size if part.exists() else 0
        try:
            size = _attempt(
                host, port, directory, filename, part, user, password, timeout, where, progress
            )
            break
        except DownloadError:
            part.unlink(missing_ok=True)
            raise
        except ftplib.error_perm as err:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{where}: the server refused ({err})") from None
        except (_Incomplete, *TRANSIENT) as err:
            now = part.stat().st_size if part.exists() else 0
            why = f"{type(err).__name__}: {err or 'connection closed'}"
            if now > offset:
                failures = 0  # progress was made: start counting again
            failures += 1
            if failures > retries:
                raise DownloadError(
                    f"{where}: giving up after {failures} failed attempt(s) in a row "
                    f"({why}); {now} bytes kept in {part} to resume"
                ) from None
            delay = min(backoff * 2 ** (failures - 1), MAX_DELAY_S)
            log.warning(
                "%s: attempt failed (%s) at %d bytes; retry %d of %d in %.1f s",
                where, why, now, failures, retries, delay,
            )  # fmt: skip
            _sleep(delay)

    got = part.stat().st_size
    if got != size:  # _attempt checks this too; keep the final check explicit
        part.unlink(missing_ok=True)
        raise DownloadError(f"{where}: got {got} bytes, the server announced {size}")
    try:
        verify_gzip(part)
    except DownloadError as err:
        part.unlink(missing_ok=True)
        raise DownloadError(f"{where}: {err}") from None
    with open(part, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(part, dest)
    log.info("%s: complete, %d bytes, gzip stream verified -> %s", where, size, dest)
    return dest


def _attempt(host, port, directory, filename, part, user, password, timeout, where, progress):
    """One connection: log in, SIZE, RETR (REST from the partial file's size); returns the size."""
    log.info("connecting to %s@%s:%s", user, host, port)
    ftp = ftplib.FTP(timeout=timeout)
    ok = False
    try:
        ftp.connect(host, port)
        try:
            ftp.login(user, password)
        except ftplib.error_perm as err:
            raise DownloadError(f"{where}: login as {user!r} refused ({err})") from None
        ftp.set_pasv(True)
        if directory:
            try:
                ftp.cwd(directory)
            except ftplib.error_perm as err:
                raise DownloadError(f"{where}: no folder {directory!r} on {host} ({err})") from None
        ftp.voidcmd("TYPE I")  # SIZE and REST count bytes in binary mode only
        try:
            size = ftp.size(filename)
        except ftplib.error_perm as err:
            part.unlink(missing_ok=True)
            if _code(err) == 550:
                raise DownloadError(
                    f"{where}: no file {filename!r} in folder {directory!r} on {host} ({err})"
                ) from None
            raise DownloadError(f"{where}: SIZE of {filename!r} refused ({err})") from None
        if size is None:
            raise DownloadError(f"{where}: the server gave no SIZE for {filename!r}")

        offset = part.stat().st_size if part.exists() else 0
        if offset > size:
            log.warning("%s: %s is larger than the remote file; starting again", where, part)
            part.unlink()
            offset = 0
        if offset == size:
            log.info("%s: %s already holds all %d bytes", where, part, size)
            ok = True
            return size
        if offset:
            log.info("%s: resuming at byte %d of %d (REST)", where, offset, size)
        else:
            log.info("%s: downloading %d bytes to %s", where, size, part)
        try:
            conn = ftp.transfercmd(f"RETR {filename}", rest=offset or None)
        except ftplib.error_perm as err:
            if offset and _code(err) in (500, 501, 502, 504):
                # REST not supported: the next attempt starts from zero
                log.warning("%s: the server refused REST (%s); starting again", where, err)
                part.unlink()
                raise _Incomplete("REST refused") from None
            raise
        bar = _Progress(filename, size, offset, progress)
        with conn, open(part, "ab") as fh:
            while True:
                block = conn.recv(BLOCKSIZE)
                if not block:
                    break
                fh.write(block)
                bar.update(len(block))
        # after the data connection closes the server replies 226 (or 426 / 451 if it aborted)
        ftp.voidresp()
        got = part.stat().st_size
        log.info("%s: %s", filename, bar.line())
        if got < size:
            raise _Incomplete(f"the transfer ended at {got} of {size} bytes")
        if got > size:
            part.unlink()
            raise DownloadError(f"{where}: received {got} bytes, more than the {size} announced")
        ok = True
        return size
    finally:
        if ok:
            try:
                ftp.quit()
            except (*TRANSIENT, ftplib.error_perm):
                pass  # the file is complete; a rude goodbye does not matter
        ftp.close()  # after a failure, without waiting for a QUIT reply
