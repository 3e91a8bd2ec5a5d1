"""ESA ESM archives: names, safe unpacking and deterministic writing (gravsep.formats.archive)."""

import calendar
import datetime as dt
import gzip
import io
import tarfile
import time
import zlib

import numpy as np
import pytest
from archive_helpers import epochs_of, regular, special, tar_bytes
from gravsep.atomic import temporary_path
from gravsep.formats.archive import (
    ArchiveError,
    archive_name,
    member_name,
    parse_member_name,
    unpack_archive,
    write_archive,
    year_epochs,
)
from gravsep.formats.icgem import format_icgem

LETTER, YEAR = "H", 1996  # a leap year: 366 * 4 = 1464 epochs


def name_of(letter, t):
    return f"mtmshc_{letter}_{t:%Y%m%d}_{t.hour:02d}.180"


def texts(year, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (np.datetime64(t), format_icgem(rng.normal(size=(2, 3, 3)) * np.tri(3)))
        for t in epochs_of(year)
    ]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A complete archive of LETTER, YEAR and its texts."""
    d = tmp_path_factory.mktemp("full")
    files = texts(YEAR)
    path = d / archive_name(YEAR, LETTER)
    write_archive(path, LETTER, YEAR, files)
    return path, files


def test_names():
    assert archive_name(1995, "A") == "mtm_1995_A.tar.gz"
    t = dt.datetime(1995, 1, 4, 6)
    assert member_name("A", np.datetime64(t)) == "mtmshc_A_19950104_06.180"
    letter, epoch = parse_member_name("1995-01/mtmshc_A_19950104_06.180")
    assert letter == "A" and epoch == np.datetime64(t, "s")
    bad_names = ["19950104_05", "19950230_00", "19950104_24", "19950104_30", "19951301_00"]
    for bad in [f"mtmshc_A_{b}.180" for b in bad_names] + [
        "mtmshc_A_19950104_06.181",
        "x_A_19950104_06.180",
        "mtmshc_a_19950104_06.180",
    ]:
        assert parse_member_name(bad) is None, bad


@pytest.mark.parametrize("year", [1995, 1996, 2000, 1900])
def test_year_epochs(year):
    want = np.array([np.datetime64(t, "s") for t in epochs_of(year)])
    np.testing.assert_array_equal(year_epochs(year), want)


def test_round_trip(full, tmp_path):
    path, files = full
    dest = tmp_path / "H_1996"
    stale = temporary_path(tmp_path / "H_1996")  # left by a killed run
    stale.mkdir()
    (stale / "junk").write_text("x")
    out = unpack_archive(path, dest, LETTER, YEAR)
    assert len(out) == len(files) == 1464
    assert not stale.exists() and not (dest / "junk").exists()
    want = [name_of(LETTER, t) for t in epochs_of(YEAR)]
    assert [p.name for p in out] == want  # time order
    assert sorted(p.name for p in dest.iterdir()) == sorted(want)  # flat
    for p, (_, text) in zip(out, files, strict=True):
        assert p.read_text() == text


def test_written_layout(full):
    path, files = full
    with tarfile.open(path, "r:gz") as tar:
        members = tar.getmembers()
    dirs = [m.name for m in members if m.isdir()]
    regular = [m for m in members if m.isfile()]
    assert dirs == [f"{YEAR}-{k:02d}" for k in range(1, 13)]
    assert [m.name for m in regular] == [f"{t:%Y-%m}/{name_of(LETTER, t)}" for t in epochs_of(YEAR)]
    jan1 = calendar.timegm((YEAR, 1, 1, 0, 0, 0))
    assert all(m.mtime == jan1 for m in members)
    assert all(m.uid == 0 and m.gid == 0 for m in members)


def test_deterministic_bytes(tmp_path, monkeypatch):
    files = texts(1995)[:40]
    a, b, c = (tmp_path / f"{k}" / "mtm_1995_A.tar.gz" for k in "abc")
    for p in (a, b, c):
        p.parent.mkdir()
    write_archive(a, "A", 1995, files)
    time.sleep(1.1)  # a later wall-clock time must not matter
    write_archive(b, "A", 1995, files)
    assert a.read_bytes() == b.read_bytes()
    assert not temporary_path(b.parent / "mtm_1995_A.tar.gz").exists()
    # nor the machine's time zone
    if not hasattr(time, "tzset"):
        pytest.skip("no time.tzset")
    try:
        monkeypatch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        write_archive(c, "A", 1995, files)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert a.read_bytes() == c.read_bytes()
    # and other content gives other bytes
    write_archive(c, "A", 1995, texts(1995, seed=1)[:40])
    assert a.read_bytes() != c.read_bytes()


# ---------------------------------------------------------------- refusals


def make_tar(path, members):
    """Write :func:`tar_bytes` of the members to ``path``."""
    path.write_bytes(tar_bytes(members))
    return path


def good(k=0):
    t = epochs_of(1995)[k]
    text = format_icgem(np.eye(2)[None].repeat(2, 0))
    return regular(f"{t:%Y-%m}/{name_of('A', t)}", text.encode())


def assert_refused(tmp_path, archive, *fragments, letter="A", year=1995):
    dest = tmp_path / "out" / "A_1995"
    with pytest.raises(ArchiveError) as err:
        unpack_archive(archive, dest, letter, year)
    msg = str(err.value)
    assert str(archive) in msg
    for f in fragments:
        assert f in msg, (f, msg)
    assert not dest.exists()
    assert not temporary_path(tmp_path / "out" / "A_1995").exists()
    left = [p.name for p in (tmp_path / "out").iterdir()] if (tmp_path / "out").exists() else []
    assert left == []
    return msg


@pytest.mark.parametrize(
    "member, label",
    [
        (regular("../mtmshc_A_19950101_06.180"), "../mtmshc_A_19950101_06.180"),
        (regular("1995-01/../../evil.180"), "1995-01/../../evil.180"),
        (regular("/tmp/mtmshc_A_19950101_06.180"), "/tmp/mtmshc_A_19950101_06.180"),
        (special("1995-01/mtmshc_A_19950101_06.180", tarfile.SYMTYPE, "/etc/passwd"), "passwd"),
        (special("1995-01/mtmshc_A_19950101_06.180", tarfile.LNKTYPE, "1995-01/x"), "link"),
        (special("1995-01/dev", tarfile.CHRTYPE), "1995-01/dev"),
        (special("1995-01/blk", tarfile.BLKTYPE), "1995-01/blk"),
        (special("1995-01/fifo", tarfile.FIFOTYPE), "1995-01/fifo"),
        (special("../up", tarfile.DIRTYPE), "../up"),
    ],
    ids=["dotdot", "dotdot-deep", "absolute", "symlink", "hardlink", "chr", "blk", "fifo", "dir"],
)
def test_unsafe_members_refused(tmp_path, member, label):
    # a good member first: what was already written must go too
    archive = make_tar(tmp_path / "mtm_1995_A.tar.gz", [good(0), member, good(2)])
    msg = assert_refused(tmp_path, archive, "refusing", label)
    assert repr(member[0].name) in msg
    assert not (tmp_path / "evil.180").exists() and not (tmp_path / "up").exists()


def test_empty_archive_refused(tmp_path):
    archive = make_tar(tmp_path / "mtm_1995_A.tar.gz", [])
    assert_refused(tmp_path, archive, "empty")
    only_dirs = make_tar(tmp_path / "dirs.tar.gz", [special("1995-01", tarfile.DIRTYPE)])
    assert_refused(tmp_path, only_dirs, "empty")
    zero = tmp_path / "zero.tar.gz"
    zero.write_bytes(b"")
    assert_refused(tmp_path, zero)
    empty_gz = tmp_path / "emptygz.tar.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    assert_refused(tmp_path, empty_gz)


def test_missing_epoch_refused(tmp_path):
    files = texts(1995)
    gone = 777
    archive = tmp_path / "mtm_1995_A.tar.gz"
    write_archive(archive, "A", 1995, files[:gone] + files[gone + 1 :])
    assert_refused(tmp_path, archive, "1 epoch(s) missing", name_of("A", epochs_of(1995)[gone]))


def test_wrong_letter_year_name_refused(tmp_path):
    wrong_letter = make_tar(
        tmp_path / "l.tar.gz", [good(0), regular("1995-01/mtmshc_O_19950101_06.180")]
    )
    assert_refused(tmp_path, wrong_letter, "mtmshc_O_19950101_06.180", "letter O", "expected A")
    wrong_year = make_tar(
        tmp_path / "y.tar.gz", [good(0), regular("1996-01/mtmshc_A_19960101_06.180")]
    )
    assert_refused(tmp_path, wrong_year, "mtmshc_A_19960101_06.180", "1995")
    for bad in ["1995-01/readme.txt", "1995-01/mtmshc_A_19950101_03.180"]:
        archive = make_tar(tmp_path / "n.tar.gz", [good(0), regular(bad)])
        assert_refused(tmp_path, archive, bad)
    # the same archive is fine for what it holds: asked for letter O, the A member is refused
    assert_refused(tmp_path, make_tar(tmp_path / "a.tar.gz", [good(0)]), "expected O", letter="O")


def test_duplicate_epoch_refused(tmp_path):
    first, _ = good(4)
    dup = regular("1995-02/" + first.name.split("/")[1])
    archive = make_tar(tmp_path / "d.tar.gz", [good(0), good(4), dup])
    assert_refused(tmp_path, archive, dup[0].name, first.name, "duplicates")


def test_hour_24_alias_refused(tmp_path):
    # "_24" of 1 January would be 00 h of 2 January a second time
    alias = regular("1995-01/mtmshc_A_19950101_24.180", good(4)[1])
    archive = make_tar(tmp_path / "alias.tar.gz", [good(0), good(4), alias])
    assert_refused(tmp_path, archive, "mtmshc_A_19950101_24.180")


@pytest.fixture(scope="module")
def january(tmp_path_factory):
    """An archive of January 1995 only (124 epochs): refused for the missing rest of the year,
    so a refusal for damage must say so, not that epochs are missing."""
    path = tmp_path_factory.mktemp("jan") / "mtm_1995_A.tar.gz"
    write_archive(path, "A", 1995, texts(1995)[:124])
    return path


def test_truncated_gzip_refused(tmp_path, january):
    data = january.read_bytes()
    for cut in (4, 8, 200, len(data) // 2):  # trailer only, end of data, half
        archive = tmp_path / f"cut{cut}.tar.gz"
        archive.write_bytes(data[:-cut])
        msg = assert_refused(tmp_path, archive)
        assert "epoch(s) missing" not in msg


def test_corrupt_bytes_refused(tmp_path, january):
    data = january.read_bytes()
    original = gzip.decompress(data)
    refused = 0
    for pos in range(30, len(data) - 4, len(data) // 12):
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        try:  # independent check: does the damage change or break the decompressed bytes?
            damaged = gzip.decompress(bytes(bad)) != original
        except (OSError, EOFError, zlib.error):
            damaged = True
        archive = tmp_path / f"bad{pos}.tar.gz"
        archive.write_bytes(bytes(bad))
        msg = assert_refused(tmp_path, archive)
        # damage is named as such; a flip in an unused code leaves the content intact
        assert ("epoch(s) missing" not in msg) == damaged, msg
        refused += damaged
    assert refused >= 6


def test_not_a_gzip(tmp_path):
    archive = tmp_path / "mtm_1995_A.tar.gz"
    archive.write_bytes(b"this is not an archive" * 40)
    assert_refused(tmp_path, archive, "not a readable")
    plain = tmp_path / "plain.tar.gz"
    with tarfile.open(plain, "w") as tar:  # an uncompressed tar under a .gz name
        info, data = good(0)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert_refused(tmp_path, plain)
