"""Monthly windows: ``deltat: month`` (calendar months, as the Level-2 products)."""

import calendar
import copy
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import yaml
from archive_helpers import epochs_of
from gravsep import timestep
from gravsep.config import ConfigError, check, model_deltat, validate
from gravsep.export.fields import window_bounds
from gravsep.formats.store import StoreWriter, read_store
from gravsep.ingest.preprocess import window_edges, window_means, windows_of_year

ROOT = Path(__file__).resolve().parents[1]
NMAX = 3


def _store(path, year, seed):
    epochs = epochs_of(year)
    cs = np.random.default_rng(seed).normal(size=(len(epochs), 2, NMAX + 1, NMAX + 1))
    t = np.array([calendar.timegm(e.timetuple()) for e in epochs], dtype=np.int64)
    with StoreWriter(path, "H", year, NMAX, len(epochs), "component", 3.986e14, 6.378e6) as w:
        w.write(0, cs, t)
    return epochs, cs


def test_month_edges_are_the_calendar_months():
    start, end = window_edges([1995, 1996], "month")
    assert len(start) == 24
    assert str(start[0]) == "1995-01-01T00:00:00" and str(end[-1]) == "1997-01-01T00:00:00"
    assert np.all(start[1:] == end[:-1])
    days = (end - start) / np.timedelta64(1, "D")
    assert days[1] == 28 and days[13] == 29 and days[0] == 31  # Feb 1995, Feb 1996 (leap)
    s96, e96 = windows_of_year([1995, 1996], "month", 1996)
    assert len(s96) == 12 and str(s96[0]) == "1996-01-01T00:00:00"


def test_monthly_window_means_against_a_loop(tmp_path):
    epochs, cs = _store(tmp_path / "H_1996.h5", 1996, 3)
    window_means([tmp_path / "H_1996.h5"], tmp_path / "w.h5", "H", [1996], "month", 1996)
    t, got, _ = read_store(tmp_path / "w.h5")
    assert len(got) == 12
    for k in range(12):
        sel = [i for i, e in enumerate(epochs) if e.month == k + 1]
        assert len(sel) == calendar.monthrange(1996, k + 1)[1] * 4
        np.testing.assert_allclose(got[k], cs[sel].mean(axis=0), rtol=1e-13, atol=1e-15)
    assert str(t[1]) == "1996-02-01T00:00:00"


def test_weekly_windows_unchanged(tmp_path):
    """168 h: the windows and means are those of consecutive weeks from 1 January, as before."""
    epochs, cs = _store(tmp_path / "H_1995.h5", 1995, 1)
    window_means([tmp_path / "H_1995.h5"], tmp_path / "w.h5", "H", [1995], 168, 1995)
    _, got, _ = read_store(tmp_path / "w.h5")
    assert len(got) == 52
    np.testing.assert_array_equal(got[0], cs[:28].sum(axis=0) / 28)


def test_time_step_labels_and_checks():
    assert timestep.label("month") == "month" and timestep.label(168) == "168h"
    for bad in (7, 0, -6, "weekly", 168.0, True):
        with pytest.raises(ValueError, match="deltat"):
            timestep.check(bad)


def test_month_bounds_of_mid_epochs():
    mids = np.array(["1998-02-14T12:00:00", "1998-12-16T12:00:00"], dtype="datetime64[s]")
    b = window_bounds(mids.astype(np.int64), "month")
    assert b.astype("datetime64[s]").astype(str).tolist() == [
        ["1998-02-01T00:00:00", "1998-03-01T00:00:00"],
        ["1998-12-01T00:00:00", "1999-01-01T00:00:00"],
    ]
    # hours: centred windows, as before
    np.testing.assert_array_equal(window_bounds(np.array([3600 * 84]), 168), [[0, 3600 * 168]])


@pytest.fixture
def raw():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_schema_takes_month_or_hours(raw):
    cfg = copy.deepcopy(raw)
    cfg["preprocess"]["deltat"] = "month"
    validate(cfg)
    check(cfg)
    for bad, word in (("weekly", "month"), (100, "multiple"), (168.0, "integer")):
        cfg = copy.deepcopy(raw)
        cfg["preprocess"]["deltat"] = bad
        with pytest.raises(ConfigError, match="preprocess.deltat") as err:
            validate(cfg)
        assert word in str(err.value)


def test_a_model_of_its_own_time_step(raw):
    cfg = copy.deepcopy(raw)
    validate(cfg)
    models = check(cfg)
    assert model_deltat(models["latlon"], cfg) == 168
    assert "deltat" not in models["latlon"]["dataset"]  # the dataset ids stay as they were
    assert model_deltat(models["monthly"], cfg) == "month"
    cfg = copy.deepcopy(raw)
    cfg["models"]["latlon"]["dataset"] = {"deltat": 6 * 1500}
    validate(cfg)
    with pytest.raises(ConfigError, match="models.latlon.dataset.deltat"):
        check(cfg)


def test_months_of_leap_years_hold_their_epochs():
    start, end = timestep.month_edges(2000, 2000)
    epochs = (end - start) / np.timedelta64(6, "h")
    assert epochs.tolist() == [4 * calendar.monthrange(2000, m)[1] for m in range(1, 13)]
    assert dt.datetime.fromisoformat(str(end[-1])) == dt.datetime(2001, 1, 1)
