"""Corrections of Level-2 fields with the real TN-13 and TN-14 files (pyshbundle), frames."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from gravsep.constants import LOVE_K, R_EARTH, RHO_EARTH, RHO_WATER
from gravsep.formats.technotes import mjd_to_datetime, read_tn13, read_tn14
from gravsep.level2.corrections import (
    NotCovered,
    apply_corrections,
    match_spans,
    mean_field,
)
from gravsep.level2.frames import TRAINING_K1, degree1_factor, love_k1
from gravsep.level2.inputs import Month, rescale

GRACE_GM, GRACE_R = 3.986004415e14, 6378136.3
NMAX = 4


@pytest.fixture(scope="module")
def notes():
    pyshbundle = pytest.importorskip("pyshbundle")
    folder = Path(pyshbundle.__file__).parent / "data" / "CSR_TN_files"
    return next(folder.glob("TN-13*")), next(folder.glob("TN-14*"))


def _month(start, end, value=0.0):
    cs = np.full((2, NMAX + 1, NMAX + 1), value)
    return Month(np.datetime64(start, "s"), np.datetime64(end, "s"), cs, f"{start}.gz", "-", {})


def _mjd_month(a, b):
    return _month(mjd_to_datetime(a), mjd_to_datetime(b))


def _config(tn13, tn14, missing="refuse"):
    return {
        "missing": missing,
        "c20": {"replace": True, "c30": True, "file": str(tn14)},
        "degree1": {"insert": True, "file": str(tn13), "frame": "CF", "love_k1": 0.021,
                    "gm": GRACE_GM, "radius": GRACE_R},
        "mean": {"remove": False},
    }  # fmt: skip


def _deg(value, n):
    cs = np.zeros((2, n + 1, n + 1))
    cs[0, n, 0] = value
    return rescale(cs, GRACE_GM, GRACE_R)[0, n, 0]


def test_tn14_rows_go_to_the_right_months(notes):
    tn13, tn14 = notes
    tn = read_tn14(tn14)
    months = [
        _month("2002-04-05", "2002-05-01"),  # CSR's first GRACE month (2002095-2002120)
        _month("2002-05-03", "2002-05-18"),  # the short May 2002 (TN-14 row 2002-05-02 .. 19)
        _mjd_month(55835.0, 55866.0),  # the overlapping special months of late 2011
        _mjd_month(55851.0, 55882.0),
        _month("2018-06-01", "2018-07-01"),  # GRACE-FO: C30 given
    ]
    kept, dropped = apply_corrections(months, _config(tn13, tn14))
    assert len(kept) == 5 and dropped == []
    rows = [np.flatnonzero((tn["start"] <= m.mid) & (tn["end"] > m.mid)) for m in months]
    expected = [0, 1]
    for m, want in zip(months[:2], expected, strict=True):
        assert m.cs[0, 2, 0] == _deg(tn["c20"][want], 2)
        assert m.info["corrections"]["TN-14"]["line"] == int(tn["lines"][want])
    a = int(np.flatnonzero(tn["start"] == mjd_to_datetime(55835.0))[0])
    b = int(np.flatnonzero(tn["start"] == mjd_to_datetime(55851.0))[0])
    assert months[2].cs[0, 2, 0] == _deg(tn["c20"][a], 2) and a in rows[2]
    assert months[3].cs[0, 2, 0] == _deg(tn["c20"][b], 2) and a != b
    assert months[3].info["corrections"]["TN-14"]["overlap"] == 1.0
    fo = months[4].info["corrections"]["TN-14"]
    assert fo["C30"] and not months[0].info["corrections"]["TN-14"]["C30"]
    assert months[0].cs[0, 3, 0] == 0.0  # no C30 in 2002: left as it was


def test_tn13_degree1_converted_from_its_love_number(notes):
    tn13, tn14 = notes
    tn = read_tn13(tn13)
    months = [_month("2002-04-05", "2002-05-01"), _month("2018-06-01", "2018-07-01")]
    apply_corrections(months, _config(tn13, tn14))
    factor = (1 + LOVE_K[1]) / (1 + 0.021)
    i = int(np.flatnonzero(tn["start"] == np.datetime64("2002-04-05", "s"))[0])
    m = months[0]
    assert m.info["corrections"]["TN-13"]["factor"] == pytest.approx(factor, rel=1e-15)
    for p, (n, mm), key in ((0, (1, 0), "c10"), (0, (1, 1), "c11"), (1, (1, 1), "s11")):
        cs = np.zeros((2, 2, 2))
        cs[0, 1, 0] = tn[key][i]
        want = rescale(cs, GRACE_GM, GRACE_R)[0, 1, 0] * factor
        assert m.cs[p, n, mm] == pytest.approx(want, rel=2e-16)


def test_months_not_covered_are_refused_or_dropped(notes):
    tn13, tn14 = notes
    gap = _month("2017-08-01", "2017-09-01")  # between GRACE and GRACE-FO
    months = [_month("2002-04-05", "2002-05-01"), gap]
    with pytest.raises(NotCovered) as err:
        apply_corrections(months, _config(tn13, tn14))
    msg = str(err.value)
    assert "2017-08-01T00:00:00 .. 2017-09-01T00:00:00" in msg and str(tn14) in msg
    assert "C20 (TN-14)" in msg and "degree 1 (TN-13)" in msg
    months = [_month("2002-04-05", "2002-05-01"), _month("2017-08-01", "2017-09-01")]
    kept, dropped = apply_corrections(months, _config(tn13, tn14, "drop"))
    assert [m.label for m in kept] == ["2002-04"]
    assert {d["month"] for d in dropped} == {"2017-08"} and len(dropped) == 2


def test_match_by_overlap_not_by_month_number():
    start = np.array(["2011-10-16", "2011-11-01"], dtype="datetime64[s]")
    end = np.array(["2011-11-16", "2011-12-01"], dtype="datetime64[s]")
    rows_s = np.array(["2011-10-01", "2011-10-16", "2011-11-01"], dtype="datetime64[s]")
    rows_e = np.array(["2011-10-31", "2011-11-16", "2011-11-15"], dtype="datetime64[s]")
    index, ratio = match_spans(start, end, rows_s, rows_e)
    assert index.tolist() == [1, -1]  # the second month: at best 14 of 30 days (< half)
    assert ratio[0] == 1.0 and ratio[1] == pytest.approx(14 / 30)


def test_frame_conversion_closed_form():
    # the load (EWH, metres) of a degree-1 coefficient in frame X is C1 * a / (1 + k'1_X)
    a = 3.0 * R_EARTH * RHO_EARTH / (3.0 * RHO_WATER)
    c1_cf = 1.7e-10
    load = c1_cf * a / (1 + TRAINING_K1)
    for frame, k in (("CE", None), ("CF", 0.021), ("CF", TRAINING_K1)):
        c1 = c1_cf * degree1_factor("CF", None, frame, k if k is not None else 0.0)
        assert c1 * a / (1 + love_k1(frame, k or 0.0)) == pytest.approx(load, rel=1e-15)
    assert degree1_factor("CE", 0.0) == 1 + TRAINING_K1
    assert degree1_factor("CF", 0.021) == (1 + TRAINING_K1) / 1.021
    assert degree1_factor("CF", TRAINING_K1) == 1.0
    with pytest.raises(ValueError, match="CM frame are zero"):
        degree1_factor("CM")
    assert degree1_factor("CF", None, "CM") == 0.0  # a load has no degree 1 about the CM


def test_frames_agree_with_gravity_toolkit_love_numbers():
    """Blewitt (2003): k'1 is frame dependent, k'1_X = k'1_CE - alpha_X (gravity-toolkit)."""
    from gravity_toolkit.read_love_numbers import load_love_numbers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = {ref: load_love_numbers(2, LOVE_NUMBERS=0, REFERENCE=ref)[1][1]
             for ref in ("CE", "CF", "CM")}  # fmt: skip
    assert k["CE"] == 0.0 and k["CM"] == -1.0
    assert k["CF"] == pytest.approx(TRAINING_K1, abs=5e-4)  # PREM: 0.0274, the table's 0.027
    assert degree1_factor("CE", None, "CF", k["CF"]) == pytest.approx(1 + k["CF"], rel=1e-15)
    assert love_k1("CM") == k["CM"] and love_k1("CE") == k["CE"]


def test_mean_over_a_period_or_from_a_file(tmp_path):
    months = [_month(f"1999-{m:02d}-01", f"1999-{m + 1:02d}-01", float(m)) for m in range(1, 11)]
    mean, info = mean_field(months, ["1999-03", "1999-05"])
    assert np.all(mean == 4.0) and info["months"] == ["1999-03", "1999-04", "1999-05"]
    mean, info = mean_field(months)
    assert np.all(mean == 5.5) and info["period"] == ["1999-01", "1999-10"]
    with pytest.raises(ValueError, match="no input month lies in it"):
        mean_field(months, ["2000-01", "2000-12"])
    from gravsep.formats.icgem import write_icgem

    field = np.zeros((2, NMAX + 1, NMAX + 1))
    field[0, 2, 0] = -4.84e-4
    write_icgem(tmp_path / "mean.gfc", field, gm=GRACE_GM, radius=GRACE_R)
    mean, info = mean_field(months, path=tmp_path / "mean.gfc")
    assert mean[0, 2, 0] == pytest.approx(_deg(-4.84e-4, 2), rel=1e-12)
    assert info["file"].endswith("mean.gfc")
