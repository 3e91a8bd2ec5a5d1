"""Combined components, temporal windows and yearly-mean removal (gravsep.ingest.preprocess)."""

import calendar
import datetime as dt

import h5py
import numpy as np
import pytest
from archive_helpers import epochs_of
from gravsep.atomic import temporary_path
from gravsep.formats.store import StoreWriter, read_store
from gravsep.ingest.preprocess import (
    combine,
    copy_windows,
    remove_yearly_mean,
    window_edges,
    window_means,
    window_name,
    windows_of_year,
)

NMAX = 3
GM, RADIUS = 3.986e14, 6.378e6


def seconds(t):
    return calendar.timegm(t.timetuple())


def make_store(path, name, year, epochs, seed, gm=GM):
    """A store of random coefficients at the given datetimes; returns its coefficients."""
    cs = np.random.default_rng(seed).normal(size=(len(epochs), 2, NMAX + 1, NMAX + 1))
    with StoreWriter(path, name, year, NMAX, len(epochs), "component", gm, RADIUS) as w:
        w.write(0, cs, np.array([seconds(t) for t in epochs], dtype=np.int64))
    return cs


@pytest.fixture(scope="module")
def two_years(tmp_path_factory):
    """Component stores of 1995 and 1996 (every epoch), with their epochs and coefficients."""
    d = tmp_path_factory.mktemp("stores")
    out = {}
    for k, year in enumerate((1995, 1996)):
        ep = epochs_of(year)
        out[year] = (d / f"AO_{year}.h5", ep, make_store(d / f"AO_{year}.h5", "AO", year, ep, k))
    return out


def reference_edges(years, deltat):
    """Windows from 1 Jan of the first year, dropped once they pass the end of the last."""
    start, stop = dt.datetime(min(years), 1, 1), dt.datetime(max(years) + 1, 1, 1)
    out, s = [], start
    while s + dt.timedelta(hours=deltat) <= stop:
        out.append((s, s + dt.timedelta(hours=deltat)))
        s += dt.timedelta(hours=deltat)
    return out


def reference_means(epochs, cs, windows):
    """Loop over every epoch: mean of those with start <= t < end, per window."""
    result = []
    for s, e in windows:
        total, count = np.zeros_like(cs[0]), 0
        for t, c in zip(epochs, cs, strict=True):
            if s <= t < e:
                total += c
                count += 1
        assert count == (e - s) // dt.timedelta(hours=6)
        result.append(total / count)
    return np.array(result)


def as_datetimes(t64):
    return [dt.datetime.fromisoformat(str(np.datetime64(t, "s"))) for t in t64]


# ---------------------------------------------------------------- combine


def test_combine_is_the_sum(tmp_path):
    ep = epochs_of(1995)[:100]  # more than one block of epochs
    a = make_store(tmp_path / "A.h5", "A", 1995, ep, 1)
    o = make_store(tmp_path / "O.h5", "O", 1995, ep, 2)
    h = make_store(tmp_path / "H.h5", "H", 1995, ep, 3)
    combine([tmp_path / "A.h5", tmp_path / "O.h5", tmp_path / "H.h5"], tmp_path / "AOH.h5",
            "AOH", 1995)  # fmt: skip
    time, cs, attrs = read_store(tmp_path / "AOH.h5")
    np.testing.assert_array_equal(cs, a + o + h)
    assert as_datetimes(time) == ep
    assert attrs["name"] == "AOH" and attrs["year"] == 1995 and attrs["kind"] == "component"
    assert attrs["gm"] == GM and attrs["radius"] == RADIUS
    # a single letter is a copy
    combine([tmp_path / "A.h5"], tmp_path / "A2.h5", "A", 1995)
    np.testing.assert_array_equal(read_store(tmp_path / "A2.h5")[1], a)


def test_combine_refuses_mismatch(tmp_path):
    ep = epochs_of(1995)[:10]
    make_store(tmp_path / "A.h5", "A", 1995, ep, 1)
    make_store(tmp_path / "O.h5", "O", 1995, ep[:5] + ep[6:] + [ep[-1] + dt.timedelta(hours=6)], 2)
    make_store(tmp_path / "G.h5", "O", 1995, ep, 2, gm=1.0)
    out = tmp_path / "AO.h5"
    with pytest.raises(ValueError, match="O.h5"):
        combine([tmp_path / "A.h5", tmp_path / "O.h5"], out, "AO", 1995)
    with pytest.raises(ValueError, match="gm"):
        combine([tmp_path / "A.h5", tmp_path / "G.h5"], out, "AO", 1995)
    assert not out.exists() and not temporary_path(tmp_path / "AO.h5").exists()


# ---------------------------------------------------------------- windows


@pytest.mark.parametrize("years", [[1995], [1995, 1996], [1996, 1997, 1998]])
@pytest.mark.parametrize("deltat", [6, 30, 42, 168, 720])
def test_window_edges(years, deltat):
    start, end = window_edges(years, deltat)
    want = reference_edges(years, deltat)
    assert len(start) == len(want) > 0
    assert as_datetimes(start) == [s for s, _ in want]
    assert as_datetimes(end) == [e for _, e in want]
    assert start[0] == np.datetime64(f"{years[0]}-01-01T00:00:00")
    assert np.all(np.diff(start.astype(np.int64)) == deltat * 3600)
    stop = dt.datetime(max(years) + 1, 1, 1)
    assert as_datetimes(end)[-1] <= stop < as_datetimes(end)[-1] + dt.timedelta(hours=deltat)
    # filed under the year of their start, every window once
    per_year = [windows_of_year(years, deltat, y) for y in years]
    assert sum(len(s) for s, _ in per_year) == len(start)
    for y, (s, _) in zip(years, per_year, strict=True):
        assert all(t.year == y for t in as_datetimes(s))


@pytest.mark.parametrize("deltat", [0, -6, 5, 13])
def test_window_edges_refuses_bad_deltat(deltat):
    with pytest.raises(ValueError, match="deltat"):
        window_edges([1995], deltat)


def test_window_name_hours():
    s, e = dt.datetime(1995, 1, 2, 6), dt.datetime(1995, 1, 3, 12)
    name = window_name("AO", np.datetime64(s), np.datetime64(e))
    assert name == "mtmshc_AO_19950102_06_19950103_12.180"
    start, end = window_edges([1995], 30)
    names = [window_name("H", a, b) for a, b in zip(start, end, strict=True)]
    for n, a, b in zip(names, as_datetimes(start), as_datetimes(end), strict=True):
        assert n == f"mtmshc_H_{a:%Y%m%d}_{a.hour:02d}_{b:%Y%m%d}_{b.hour:02d}.180"
    assert {n.split("_")[3] for n in names} == {"00", "06", "12", "18"}


@pytest.mark.parametrize("deltat", [168, 30, 42])
def test_window_means_match_reference(tmp_path, two_years, deltat):
    years = [1995, 1996]
    (p95, e95, c95), (p96, e96, c96) = two_years[1995], two_years[1996]
    epochs, cs = e95 + e96, np.concatenate([c95, c96])
    for year in years:
        out = tmp_path / f"W_{year}.h5"
        stores = [p95, p96] if year == 1995 else [p96]
        window_means(stores, out, "AO", years, deltat, year)
        windows = [(s, e) for s, e in reference_edges(years, deltat) if s.year == year]
        time, got, attrs = read_store(out)
        with h5py.File(out, "r") as f:
            time_end = f["time_end"][:]
        assert as_datetimes(time) == [s for s, _ in windows]
        assert [dt.datetime.fromtimestamp(int(t), dt.UTC).replace(tzinfo=None)
                for t in time_end] == [e for _, e in windows]  # fmt: skip
        np.testing.assert_allclose(got, reference_means(epochs, cs, windows), rtol=0, atol=1e-12)
        assert attrs["kind"] == "windows" and attrs["year"] == year and attrs["name"] == "AO"
    if deltat != 30:  # 8760 h is a multiple of 30: no window crosses into 1996 then
        last = reference_edges(years, deltat)
        assert any(s.year == 1995 and e > dt.datetime(1996, 1, 1) for s, e in last)


def test_window_missing_epoch_names_window(tmp_path, two_years):
    p95, e95, c95 = two_years[1995]
    for k in (10, 27, 0):  # inside a weekly window, its last epoch, its first
        ep = e95[:k] + e95[k + 1 :]
        path = tmp_path / f"gap{k}.h5"
        make_store(path, "AO", 1995, ep, 5)
        week = k // 28
        s = dt.datetime(1995, 1, 1) + dt.timedelta(days=7 * week)
        name = f"mtmshc_AO_{s:%Y%m%d}_00_{s + dt.timedelta(days=7):%Y%m%d}_00.180"
        out = tmp_path / f"W{k}.h5"
        with pytest.raises(ValueError, match=name):
            window_means([path, two_years[1996][0]], out, "AO", [1995, 1996], 168, 1995)
        assert not out.exists() and not temporary_path(tmp_path / f"W{k}.h5").exists()


def test_window_crossing_year_needs_next_year(tmp_path, two_years):
    p95 = two_years[1995][0]
    out = tmp_path / "W.h5"
    with pytest.raises(ValueError, match="mtmshc_AO_19951231_00_19960107_00.180"):
        window_means([p95], out, "AO", [1995, 1996], 168, 1995)
    # with 1995 the last year, the crossing window is dropped and 1995 alone suffices
    window_means([p95], out, "AO", [1995], 168, 1995)
    assert len(read_store(out)[0]) == 52


def test_window_epoch_twice_is_refused(tmp_path, two_years):
    p95 = two_years[1995][0]
    with pytest.raises(ValueError, match="mtmshc_AO_19950101_00"):
        window_means([p95, p95], tmp_path / "W.h5", "AO", [1995], 168, 1995)


# ---------------------------------------------------------------- yearly mean


def test_remove_yearly_mean(tmp_path, two_years):
    p95 = two_years[1995][0]
    win = tmp_path / "W.h5"
    window_means([p95, two_years[1996][0]], win, "AO", [1995, 1996], 42, 1995)
    time, w, attrs = read_store(win)
    out = tmp_path / "anom.h5"
    remove_yearly_mean(win, out)
    time2, got, attrs2 = read_store(out)
    mean = sum(w[i] for i in range(len(w))) / len(w)
    np.testing.assert_allclose(got, w - mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_array_equal(time2, time)
    with h5py.File(out, "r") as f, h5py.File(win, "r") as g:
        np.testing.assert_allclose(f["yearly_mean"][:], mean, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(f["time_end"][:], g["time_end"][:])
    for key in ("name", "year", "nmax", "gm", "radius"):
        assert attrs2[key] == attrs[key]
    kept = tmp_path / "kept.h5"
    copy_windows(win, kept)
    np.testing.assert_array_equal(read_store(kept)[1], w)
    with h5py.File(kept, "r") as f:
        assert not f["yearly_mean"][:].any()
