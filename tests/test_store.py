"""Parsing a letter-year's files once into an HDF5 store (gravsep.formats.store)."""

import calendar
import datetime as dt
import hashlib

import h5py
import numpy as np
import pytest
from gravsep.atomic import temporary_path
from gravsep.formats.icgem import ICGEMError, format_icgem
from gravsep.formats.store import StoreWriter, read_store
from gravsep.ingest.stores import build_letter_store

NMAX = 3


def parse_text(text):
    """Independent parse of ICGEM text into (2, N+1, N+1)."""
    body = text.split("end_of_head\n", 1)[1]
    cs = np.zeros((2, NMAX + 1, NMAX + 1))
    for line in body.splitlines():
        w = line.split()
        if w:
            cs[:, int(w[1]), int(w[2])] = [float(x.replace("D", "E")) for x in w[3:5]]
    return cs


def make_files(folder, letter="O", year=1995, count=9, seed=0, **kwargs):
    """Write `count` epochs' files into `folder`; return {datetime: path}."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for k in range(count):
        t = dt.datetime(year, 1, 1) + dt.timedelta(hours=6 * (k * 37 % 1460))
        cs = rng.normal(size=(2, NMAX + 1, NMAX + 1)) * np.tri(NMAX + 1)
        path = folder / f"mtmshc_{letter}_{t:%Y%m%d}_{t.hour:02d}.180"
        path.write_text(format_icgem(cs, **kwargs))
        out[t] = path
    return out


def test_build_letter_store(tmp_path):
    files = make_files(tmp_path / "in", gm=3.9e14, radius=6.4e6)
    out = tmp_path / "store" / "O_1995.h5"
    paths = list(files.values())[::-1]  # order of the list must not matter
    assert build_letter_store(paths, out, "O", 1995, NMAX) == out
    assert not temporary_path(out).exists()
    order = sorted(files)
    with h5py.File(out, "r") as f:
        cs, t = f["cs"][:], f["time"][:]
        source = [s.decode() if isinstance(s, bytes) else s for s in f["source"][:]]
        sha = [s.decode() if isinstance(s, bytes) else s for s in f["sha256"][:]]
        attrs = dict(f.attrs)
        assert f["cs"].dtype == np.float64 and f["time"].dtype == np.int64
    assert cs.shape == (len(files), 2, NMAX + 1, NMAX + 1)
    for i, ti in enumerate(order):
        path = files[ti]
        np.testing.assert_array_equal(cs[i], parse_text(path.read_text()))
        assert t[i] == calendar.timegm(ti.timetuple())
        assert source[i] == path.name
        assert sha[i] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert attrs["name"] == "O" and attrs["year"] == 1995 and attrs["nmax"] == NMAX
    assert attrs["kind"] == "letter"
    assert attrs["gm"] == 3.9e14 and attrs["radius"] == 6.4e6
    # read_store gives the same
    time, cs2, attrs2 = read_store(out)
    np.testing.assert_array_equal(cs2, cs)
    assert list(time) == [np.datetime64(ti, "s") for ti in order]
    assert attrs2["nmax"] == NMAX
    time, cs3, _ = read_store(out, 2, 5)
    np.testing.assert_array_equal(cs3, cs[2:5])
    assert list(time) == [np.datetime64(ti, "s") for ti in order[2:5]]


def assert_no_store(out):
    assert not out.exists()
    assert not temporary_path(out).exists()


def test_bad_file_names_file_and_line(tmp_path):
    files = make_files(tmp_path / "in")
    bad = sorted(files)[5]
    lines = files[bad].read_text().split("\n")
    lineno = 13
    assert lines[lineno - 1].startswith("gfc")
    lines[lineno - 1] = lines[lineno - 1].replace("D", "X", 1)
    files[bad].write_text("\n".join(lines))
    out = tmp_path / "O_1995.h5"
    with pytest.raises(ICGEMError) as err:
        build_letter_store(list(files.values()), out, "O", 1995, NMAX)
    assert f"{files[bad]}, line {lineno}" in str(err.value)
    assert "<bytes>" not in str(err.value)
    assert_no_store(out)


def test_truncated_or_wrong_degree_file(tmp_path):
    files = make_files(tmp_path / "in")
    bad = sorted(files)[-1]
    text = files[bad].read_text()
    files[bad].write_text(text[: text.rindex("gfc")])
    out = tmp_path / "O_1995.h5"
    with pytest.raises(ICGEMError, match="missing") as err:
        build_letter_store(list(files.values()), out, "O", 1995, NMAX)
    assert str(files[bad]) in str(err.value)
    assert_no_store(out)
    files[bad].write_text(text)
    with pytest.raises(ICGEMError, match="max_degree") as err:
        build_letter_store(list(files.values()), out, "O", 1995, NMAX + 1)
    assert_no_store(out)


def test_gm_radius_must_agree(tmp_path):
    files = make_files(tmp_path / "in")
    odd = sorted(files)[3]
    files[odd].write_text(format_icgem(np.zeros((2, NMAX + 1, NMAX + 1)), gm=1.0))
    out = tmp_path / "O_1995.h5"
    with pytest.raises(ICGEMError, match="GM/radius") as err:
        build_letter_store(list(files.values()), out, "O", 1995, NMAX)
    assert str(files[odd]) in str(err.value)
    assert_no_store(out)


def test_wrong_letter_year_or_duplicate_epoch(tmp_path):
    files = make_files(tmp_path / "in", count=3)
    other = make_files(tmp_path / "other", letter="A", count=1)
    out = tmp_path / "O_1995.h5"
    with pytest.raises(ICGEMError, match="letter O") as err:
        build_letter_store([*files.values(), *other.values()], out, "O", 1995, NMAX)
    assert str(next(iter(other.values()))) in str(err.value)
    assert_no_store(out)
    dup = make_files(tmp_path / "dup", count=1)
    with pytest.raises(ICGEMError, match="duplicate"):
        build_letter_store([*files.values(), *dup.values()], out, "O", 1995, NMAX)
    assert_no_store(out)
    with pytest.raises(ICGEMError, match="1996"):
        build_letter_store(list(files.values()), out, "O", 1996, NMAX)
    assert_no_store(out)


def test_store_writer_abort_and_close(tmp_path):
    out = tmp_path / "sub" / "x.h5"
    with pytest.raises(RuntimeError):
        with StoreWriter(out, "AO", 1995, 2, 4, "component", 1.0, 2.0) as w:
            w.write(0, np.ones((2, 2, 3, 3)), np.array([0, 21600]))
            raise RuntimeError("killed")
    assert_no_store(out)
    cs = np.random.default_rng(0).normal(size=(4, 2, 3, 3))
    with StoreWriter(out, "AO", 1995, 2, 4, "component", 1.0, 2.0) as w:
        w.write(0, cs[:1], np.array([0]))
        w.write(1, cs[1:], np.array([6, 12, 18]) * 3600)
        assert temporary_path(out.with_name("x.h5")).exists() and not out.exists()
    time, got, attrs = read_store(out)
    np.testing.assert_array_equal(got, cs)
    assert list(time.astype(np.int64)) == [0, 21600, 43200, 64800]
    assert attrs == {
        "name": "AO", "year": 1995, "nmax": 2, "kind": "component", "gm": 1.0, "radius": 2.0,
    }  # fmt: skip
    assert_no_store(tmp_path / "sub" / "never.h5")
