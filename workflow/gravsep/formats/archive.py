"""ESA ESM archives: names, safe streaming of the members, unpacking and writing.

An archive ``mtm_<YEAR>_<C>.tar.gz`` holds one folder per month with one file per 6-hour
epoch, ``mtmshc_<C>_<YYYYMMDD>_<HH>.180``. :func:`iter_members` streams the members one at a
time: anything but regular files and folders is refused before a byte is read (links,
devices, sparse members, absolute paths and ``..``), as is a member larger than the bound its
content can have (a degree-N coefficient file has a known size, see
:func:`gravsep.formats.icgem.max_file_bytes`), so memory stays bounded whatever a header
claims. Names must parse (ASCII digits only), letter and year must match, every epoch of the
year must be there exactly once, and the gzip trailer is checked. :func:`unpack_archive`
writes the members into a folder that appears only when complete.
"""

import calendar
import gzip
import io
import re
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from gravsep.atomic import atomic_output
from gravsep.constants import EPOCH_HOURS
from gravsep.formats.icgem import excerpt

# [0-9], not \d: \d also matches other scripts' digits (a full-width ０６ would pass)
ARCHIVE_RE = re.compile(r"^mtm_(?P<year>[0-9]{4})_(?P<letter>[A-Z])\.tar\.gz$")
MEMBER_RE = re.compile(
    r"^mtmshc_(?P<letter>[A-Z])_(?P<date>[0-9]{8})_(?P<hour>[0-9]{2})\.180$", re.ASCII
)


#: Default bound of a member's size [bytes] where the degree is not known: a degree-180 file
#: with sigma columns at a generous line length (:func:`gravsep.formats.icgem.max_file_bytes`).
MAX_MEMBER_BYTES = 8 << 20


#: The most bytes of an extended header (PAX, GNU long name or link) read; ESM members need
#: none, and a long path is a few hundred bytes.
MAX_HEADER_BYTES = 64 << 10
_EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
             tarfile.GNUTYPE_LONGLINK)  # fmt: skip


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses an extended header larger than :data:`MAX_HEADER_BYTES`.

    tarfile reads a PAX header or a GNU long name whole while it parses the next member
    (``TarInfo._proc_member``), before any check of ours could run: a 2 MB archive could claim
    a 400 MB name. This hook of tarfile's (``tarinfo=`` of ``tarfile.open``) checks the size
    first.
    """

    def _proc_member(self, tarfile_):
        if self.type in _EXTENDED and self.size > MAX_HEADER_BYTES:
            raise tarfile.HeaderError(
                f"an extended header of {self.size} bytes (more than {MAX_HEADER_BYTES})"
            )
        return super()._proc_member(tarfile_)


def _name(member):
    """A member's name for messages: at most a short excerpt."""
    return excerpt(member.name)


class ArchiveError(ValueError):
    """An archive that is unsafe, corrupt or incomplete; the message names archive and member."""


def archive_name(year, letter):
    """File name of the archive of one letter and year."""
    return f"mtm_{int(year):04d}_{letter}.tar.gz"


def member_name(letter, epoch):
    """File name of one epoch's coefficients, e.g. ``mtmshc_A_19950104_06.180``."""
    ts = np.datetime64(epoch, "s").item()
    return f"mtmshc_{letter}_{ts:%Y%m%d}_{ts:%H}.180"


def parse_member_name(name):
    """Letter and epoch (``numpy.datetime64[s]``) of a member file name, or None."""
    match = MEMBER_RE.match(PurePosixPath(name).name)
    if match is None:
        return None
    d, h = match["date"], int(match["hour"])
    if h % EPOCH_HOURS or h >= 24:  # "_24" would alias 00 h of the next day
        return None
    try:
        epoch = np.datetime64(f"{d[:4]}-{d[4:6]}-{d[6:]}T00:00:00", "s")
    except ValueError:
        return None
    return match["letter"], epoch + np.timedelta64(h, "h")


def year_epochs(year):
    """All 6-hourly epochs of a calendar year, ``numpy.datetime64[s]``."""
    start = np.datetime64(f"{int(year):04d}-01-01T00:00:00", "s")
    end = np.datetime64(f"{int(year) + 1:04d}-01-01T00:00:00", "s")
    return np.arange(start, end, np.timedelta64(EPOCH_HOURS, "h"))


def year_members(letter, year):
    """Names of the files an archive of ``letter`` and ``year`` holds (every 6-hourly epoch)."""
    return {member_name(letter, e) for e in year_epochs(year)}


def _check_member(member, archive):
    name = member.name
    where = f"{archive}: member {_name(member)}"
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith(("/", "\\")):
        raise ArchiveError(f"{where} has an absolute path; refusing to read it")
    if ".." in path.parts:
        raise ArchiveError(f"{where} contains '..'; refusing to read it")
    if member.issym() or member.islnk():
        raise ArchiveError(f"{where} is a link (to {member.linkname!r}); refusing to read it")
    if member.isdev() or member.isfifo():
        raise ArchiveError(f"{where} is a device or FIFO; refusing to read it")
    if member.issparse():
        raise ArchiveError(f"{where} is a sparse file; refusing to read it")
    if not (member.isfile() or member.isdir()):
        raise ArchiveError(f"{where} is not a regular file or folder; refusing to read it")


def iter_members(archive, letter, year, max_bytes):
    """Yield ``(file name, bytes)`` of every epoch's file of an archive, one at a time.

    Parameters
    ----------
    archive : path-like
        ``mtm_<YEAR>_<C>.tar.gz``.
    letter, year : str, int
        What the archive must hold.
    max_bytes : int
        The most bytes a member may hold; a larger one is refused before it is read.

    Yields
    ------
    name : str
        The member's file name (month folders dropped).
    data : bytes

    Raises
    ------
    ArchiveError
        Unsafe, sparse or oversized member, corrupt gzip, a file of another letter or year, a
        duplicate or (after the last member) a missing epoch; the message names archive and
        member.
    """
    archive = Path(archive)
    seen = {}
    try:
        tar = tarfile.open(archive, mode="r:gz", tarinfo=_BoundedTarInfo)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ArchiveError(f"{archive}: not a readable tar.gz archive ({err})") from None
    with tar:
        while (member := _next(tar, archive)) is not None:
            tar.members.clear()  # tarfile keeps every header; nothing here needs them
            _check_member(member, archive)
            if member.isdir():
                continue
            base = _check_name(member, archive, letter, year, seen)
            yield base, _read_member(tar, member, archive, max_bytes)
        _check_trailer(tar, archive)
    missing = sorted(year_members(letter, year) - set(seen))
    if not seen:
        raise ArchiveError(f"{archive}: the archive is empty")
    if missing:
        raise ArchiveError(f"{archive}: {len(missing)} epoch(s) missing, first {missing[0]}")


def _next(tar, archive):
    try:
        return tar.next()
    except tarfile.HeaderError as err:
        if "extended header" in str(err):
            raise ArchiveError(f"{archive}: {err}; refusing to read it") from None
        raise ArchiveError(f"{archive}: corrupt or truncated archive ({err})") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise ArchiveError(f"{archive}: corrupt or truncated archive ({err})") from None


def _check_name(member, archive, letter, year, seen):
    """The member's file name, after checking its form, letter, year and uniqueness."""
    where = f"{archive}: member {_name(member)}"
    parsed = parse_member_name(member.name)
    if parsed is None:
        raise ArchiveError(f"{where} is not named mtmshc_<C>_<YYYYMMDD>_<HH>.180")
    mletter, epoch = parsed
    if mletter != letter:
        raise ArchiveError(f"{where} is of letter {mletter}, expected {letter}")
    if epoch.astype("datetime64[Y]").astype(int) + 1970 != int(year):
        raise ArchiveError(f"{where} is not of year {year}")
    base = PurePosixPath(member.name).name
    if base in seen:
        raise ArchiveError(f"{where} duplicates {excerpt(seen[base])}")
    seen[base] = member.name
    return base


def _read_member(tar, member, archive, max_bytes):
    where = f"{archive}: member {_name(member)}"
    if member.size > max_bytes:
        raise ArchiveError(
            f"{where} holds {member.size} bytes, more than a coefficient file of this degree "
            f"can ({max_bytes}); refusing to read it"
        )
    try:
        data = tar.extractfile(member).read(max_bytes + 1)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise ArchiveError(f"{where} could not be read ({err})") from None
    if len(data) > max_bytes:  # a header that understates the size
        raise ArchiveError(f"{where} holds more than {max_bytes} bytes; refusing to read it")
    return data


def _check_trailer(tar, archive):
    # tarfile stops at the end-of-archive block (or, silently, at a damaged header) without
    # reading the gzip trailer: read the stream to its end so that its CRC and length are
    # checked (a cut or corrupted file is refused, not half-used).
    try:
        while tar.fileobj.read(1 << 20):
            pass
    except (OSError, EOFError, zlib.error) as err:
        raise ArchiveError(f"{archive}: corrupt or truncated archive ({err})") from None


def unpack_archive(archive, dest, letter, year, max_bytes=None):
    """Unpack one ESM archive safely into a flat folder (the checks of :func:`iter_members`).

    Parameters
    ----------
    archive : path-like
        ``mtm_<YEAR>_<C>.tar.gz``.
    dest : path-like
        Folder to create (replaced if it exists). The files are written into a temporary
        folder beside it (:mod:`gravsep.atomic`), renamed to ``dest`` when every check has
        passed.
    letter, year : str, int
        What the archive must hold.
    max_bytes : int, optional
        The most bytes a member may hold; default :data:`MAX_MEMBER_BYTES`.

    Returns
    -------
    list of pathlib.Path
        The unpacked files in time order.

    Raises
    ------
    ArchiveError
        As :func:`iter_members`. Nothing is left at ``dest``.
    """
    dest = Path(dest)
    limit = MAX_MEMBER_BYTES if max_bytes is None else int(max_bytes)
    with atomic_output(dest, directory=True) as partial:
        for base, data in iter_members(archive, letter, year, limit):
            (partial / base).write_bytes(data)
    return sorted(dest.iterdir())


def write_archive(path, letter, year, files):
    """Write an archive in the ESM layout (one folder per month).

    Parameters
    ----------
    path : path-like
        Output ``.tar.gz``; written under a temporary name and renamed when complete.
    letter, year : str, int
    files : iterable of (numpy.datetime64, str)
        Epoch and file text, in time order.
    """
    # 1 January 00 h UTC (time.mktime would depend on the machine's time zone)
    mtime = calendar.timegm((int(year), 1, 1, 0, 0, 0, 0, 1, 0))
    members = (
        (f"{np.datetime64(epoch, 'M')}/{member_name(letter, epoch)}", text.encode("ascii"))
        for epoch, text in files
    )
    write_tar_gz(path, members, mtime, compresslevel=1)


def write_tar_gz(path, members, mtime, compresslevel=6):
    """Write ``(member path, bytes)`` pairs as a reproducible ``.tar.gz``.

    Each folder of a member path is added before its first member; every entry has the time
    stamp ``mtime`` [s since 1970] and fixed modes, and the gzip header a zero time stamp and
    no name, so the same content gives the same bytes.

    Parameters
    ----------
    path : path-like
        Output; written under a temporary name, renamed when complete, removed on failure.
    members : iterable of (str, bytes)
    mtime : int
    compresslevel : int

    Returns
    -------
    list of str
        The member paths, in the order written.
    """
    names, folders = [], set()
    with (
        atomic_output(path) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, compresslevel=compresslevel, mtime=0
        ) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for member, data in members:
            parts = member.split("/")
            for k in range(1, len(parts)):
                folder = "/".join(parts[:k])
                if folder not in folders:
                    folders.add(folder)
                    info = tarfile.TarInfo(folder)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                    tar.addfile(info)
            info = tarfile.TarInfo(member)
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            tar.addfile(info, io.BytesIO(data))
            names.append(member)
    return names
