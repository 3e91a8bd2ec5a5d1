"""Hostile and malformed input at the level of the ingest functions.

Decompression bombs (sparse members, oversized members, gzip inside a member, padding), wrong
data (another normalisation, a column shift, time-variable keys, absurd degrees), names with
non-ASCII digits and long lines: each is refused with a message that names what is wrong,
before anything of the claimed size is read or allocated, and nothing is left behind.
"""

import gzip
import io
import re
import tarfile

import h5py
import numpy as np
import pytest
from archive_helpers import epochs_of, regular, tar_bytes
from gravsep.atomic import temporary_path
from gravsep.formats.archive import ArchiveError, iter_members, unpack_archive
from gravsep.formats.icgem import (
    MAX_LINE_BYTES,
    ICGEMError,
    format_icgem,
    max_file_bytes,
    read_icgem,
)
from gravsep.formats.store import StoreWriter
from gravsep.ingest.stores import build_letter_store, store_from_archive

NMAX = 3
YEAR = 1995


def text(nmax=NMAX, seed=0):
    rng = np.random.default_rng(seed)
    cs = rng.normal(scale=1e-10, size=(2, nmax + 1, nmax + 1)) * np.tri(nmax + 1)
    return format_icgem(cs, modelname="hostile")


def member_path(t):
    return f"{t:%Y-%m}/mtmshc_A_{t:%Y%m%d}_{t:%H}.180"


def year_archive(path, replace=None, extra=()):
    """An archive of letter A, year 1995, each member ``text()``; ``replace``: index -> member."""
    members = [regular(member_path(t), text().encode()) for t in epochs_of(YEAR)]
    for i, m in (replace or {}).items():
        members[i] = m
    path.write_bytes(tar_bytes([*members, *extra]))
    return path


def sparse_member(name, kind):
    """A GNU (old style) or PAX 1.0 sparse member claiming 3 GiB."""
    raw = io.BytesIO()
    fmt = tarfile.PAX_FORMAT if kind == "pax" else tarfile.GNU_FORMAT
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        if kind == "pax":
            data = b"1\n0\n100\n".ljust(512, b"\0") + b"x" * 100
            info = tarfile.TarInfo("./GNUSparseFile.0/" + name.split("/")[-1])
            info.pax_headers = {
                "GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": name,
                "GNU.sparse.realsize": str(3 << 30),
            }  # fmt: skip
        else:
            data = b"y" * 100
            info = tarfile.TarInfo(name)
            info.type = tarfile.GNUTYPE_SPARSE
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


@pytest.mark.parametrize("kind", ["gnu", "pax"])
def test_sparse_member_refused(tmp_path, kind):
    name = member_path(epochs_of(YEAR)[0])
    tar = gzip.compress(sparse_member(name, kind), mtime=0)
    archive = tmp_path / "mtm_1995_A.tar.gz"
    archive.write_bytes(tar)
    with pytest.raises(ArchiveError, match="sparse") as err:
        list(iter_members(archive, "A", YEAR, max_file_bytes(NMAX)))
    assert name in str(err.value)


def test_member_larger_than_its_degree_allows_is_refused_unread(tmp_path):
    big = regular(member_path(epochs_of(YEAR)[5]), b"\n" * (max_file_bytes(NMAX) + 1))
    archive = year_archive(tmp_path / "mtm_1995_A.tar.gz", replace={5: big})
    with pytest.raises(ArchiveError, match=str(max_file_bytes(NMAX))) as err:
        for _ in iter_members(archive, "A", YEAR, max_file_bytes(NMAX)):
            pass
    assert "mtmshc_A_19950102_06.180" in str(err.value)


def test_valid_file_padded_with_blank_lines_is_refused(tmp_path):
    padded = (text() + "\n" * 200_000).encode()
    member = regular(member_path(epochs_of(YEAR)[7]), padded)
    archive = year_archive(tmp_path / "mtm_1995_A.tar.gz", replace={7: member})
    out = tmp_path / "A_1995.h5"
    with pytest.raises(ArchiveError, match="more than a coefficient file"):
        store_from_archive(archive, out, "A", YEAR, NMAX)
    assert not out.exists() and not temporary_path(out).exists()


def test_gzip_inside_a_member_is_bounded(tmp_path):
    bomb = gzip.compress(text().encode() + b"\n" * (20 << 20), mtime=0)  # 20 MB from ~20 kB
    assert len(bomb) < max_file_bytes(NMAX)
    member = regular(member_path(epochs_of(YEAR)[3]), bomb)
    archive = year_archive(tmp_path / "mtm_1995_A.tar.gz", replace={3: member})
    out = tmp_path / "A_1995.h5"
    with pytest.raises(ICGEMError, match="decompresses to more than") as err:
        store_from_archive(archive, out, "A", YEAR, NMAX)
    assert "mtmshc_A_19950101_18.180" in str(err.value) and str(archive) in str(err.value)
    assert not out.exists() and not temporary_path(out).exists()
    # a small gzip member is read as the text it holds
    cs, _ = read_icgem(gzip.compress(text().encode()), nmax=NMAX)
    np.testing.assert_array_equal(cs, read_icgem(text(), nmax=NMAX)[0])


@pytest.mark.parametrize("kind", ["pax comment", "gnu long name"])
def test_huge_extended_header_refused_before_it_is_read(tmp_path, kind):
    """tarfile reads a PAX header or a GNU long name whole while parsing the next member."""
    name = member_path(epochs_of(YEAR)[2])
    raw = io.BytesIO()
    fmt = tarfile.PAX_FORMAT if kind.startswith("pax") else tarfile.GNU_FORMAT
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        data = text().encode()
        info = tarfile.TarInfo(name if fmt == tarfile.PAX_FORMAT else "1995-01/" + "x" * (4 << 20))
        if fmt == tarfile.PAX_FORMAT:
            info.pax_headers = {"comment": "y" * (4 << 20)}
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    archive = tmp_path / "mtm_1995_A.tar.gz"
    archive.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    with pytest.raises(ArchiveError, match="extended header of .* bytes") as err:
        list(iter_members(archive, "A", YEAR, max_file_bytes(NMAX)))
    assert len(str(err.value)) < 300


def test_unicode_digits_in_member_names_refused(tmp_path):
    t = epochs_of(YEAR)[1]
    odd = regular(f"1995-01/mtmshc_A_{t:%Y%m%d}_\uff10\uff16.180", text().encode())  # _０６
    archive = year_archive(tmp_path / "mtm_1995_A.tar.gz", replace={1: odd})
    with pytest.raises(ArchiveError, match="is not named") as err:
        unpack_archive(archive, tmp_path / "out", "A", YEAR)
    assert "\uff10\uff16" in str(err.value)
    assert not (tmp_path / "out").exists() and not temporary_path(tmp_path / "out").exists()


def test_other_normalisation_refused_naming_the_line():
    bad = text().replace("norm fully_normalized", "norm unnormalized")
    lineno = 1 + bad.splitlines().index("norm unnormalized")
    with pytest.raises(ICGEMError, match=rf"line {lineno}: header norm is 'unnormalized'"):
        read_icgem(bad.encode(), nmax=NMAX)
    # absent (as in the ESA ESM files) is fully normalised
    no_norm = text().replace("norm fully_normalized\n", "")
    assert read_icgem(no_norm, nmax=NMAX)[1]["norm"] == "fully_normalized"


def test_column_shift_between_two_lines_refused():
    lines = text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("gfc    2    1"))
    lines[i] += " 15.0"  # an extra number ...
    lines[i + 1] = " ".join(lines[i + 1].split()[:-1])  # ... and one missing on the next line
    with pytest.raises(ICGEMError, match=rf"line {i + 1}: expected 5 columns, got 6"):
        read_icgem("\n".join(lines) + "\n", nmax=NMAX)


def test_time_variable_keys_get_their_own_message():
    lines = text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("gfc    2    0"))
    lines[i] = lines[i].replace("gfc ", "gfct", 1)
    with pytest.raises(ICGEMError, match=rf"line {i + 1}: 'gfct' is a time-variable ICGEM 2.0"):
        read_icgem("\n".join(lines) + "\n", nmax=NMAX)


def test_long_line_is_quoted_in_part():
    lines = text().splitlines()
    lines.insert(len(lines) - 1, "gfc " + "9" * (1 << 20))
    with pytest.raises(ICGEMError) as err:
        read_icgem("\n".join(lines) + "\n")
    msg = str(err.value)
    assert len(msg) < 300 and str(MAX_LINE_BYTES) in msg, msg


@pytest.mark.parametrize("claim", ["header", "line"])
def test_absurd_degree_refused_before_allocating(claim):
    if claim == "header":
        data = text().replace(f"max_degree {NMAX}", "max_degree 100000")
    else:
        data = re.sub(r"max_degree \d+\n", "", text()) + "gfc 100000 0 1.0 0.0\n"
    with pytest.raises(ICGEMError, match="100000"):
        read_icgem(data)


def test_streamed_store_equals_the_store_of_the_unpacked_files(tmp_path):
    archive = year_archive(tmp_path / "mtm_1995_A.tar.gz")
    files = unpack_archive(archive, tmp_path / "A_1995", "A", YEAR)
    build_letter_store(files, tmp_path / "from_files.h5", "A", YEAR, NMAX)
    assert store_from_archive(archive, tmp_path / "streamed.h5", "A", YEAR, NMAX) == len(files)
    with h5py.File(tmp_path / "from_files.h5") as a, h5py.File(tmp_path / "streamed.h5") as b:
        assert sorted(a) == sorted(b)
        for key in a:
            np.testing.assert_array_equal(a[key][()], b[key][()])
        assert dict(a.attrs) == dict(b.attrs)
        assert b.attrs["norm"] == "fully_normalized"


def test_store_writer_failing_while_opening_leaves_nothing(tmp_path):
    out = tmp_path / "x.h5"
    with pytest.raises((ValueError, TypeError)):
        StoreWriter(out, "A", 1995, 2, -1, "letter", 1.0, 1.0)  # negative epoch count
    assert list(tmp_path.iterdir()) == []
