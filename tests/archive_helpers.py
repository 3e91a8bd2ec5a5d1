"""Hand-made ESM archives for the archive, preprocess and fault tests.

Built with datetime and tarfile directly, independently of ``gravsep.formats.archive``, so that the
tests do not check the package against itself.
"""

import datetime as dt
import gzip
import io
import tarfile


def epochs_of(year):
    """A year's 6-hourly epochs as datetimes (an independent list)."""
    t, out = dt.datetime(year, 1, 1), []
    while t.year == year:
        out.append(t)
        t += dt.timedelta(hours=6)
    return out


def tar_bytes(members):
    """A .tar.gz of ``(TarInfo, bytes or None)`` members, written with tarfile directly."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return raw.getvalue()


def regular(name, data=b"x"):
    """A regular-file member."""
    return tarfile.TarInfo(name), data


def special(name, kind, linkname=""):
    """A member of another type (folder, link, device, FIFO), without data."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None
