"""Δt windows as ICGEM files in the reference's folder layout (gravsep.export.windows)."""

import tarfile

import numpy as np
import pytest
from gravsep.atomic import temporary_path
from gravsep.export.windows import export_windows
from gravsep.formats.icgem import read_icgem
from gravsep.formats.store import StoreWriter, to_seconds
from gravsep.ingest.preprocess import remove_yearly_mean, window_name, windows_of_year

NMAX = 4


@pytest.fixture
def anomalies(tmp_path):
    """A 1996 anomaly store of 10-day windows (the last one ends in 1997)."""
    start, end = windows_of_year([1995, 1996, 1997], 240, 1996)
    rng = np.random.default_rng(2)
    cs = rng.normal(size=(len(start), 2, NMAX + 1, NMAX + 1)) * 1e-10 * np.tri(NMAX + 1)
    cs[:, 1, :, 0] = 0.0
    windows = tmp_path / "windows.h5"
    with StoreWriter(windows, "AO", 1996, NMAX, len(cs), "windows", 3.9e14, 6.4e6) as w:
        w.write(0, cs, to_seconds(start))
        w.set_window_ends(to_seconds(end))
    out = tmp_path / "AO_1996.h5"
    remove_yearly_mean(windows, out)
    return out, start, end, cs - cs.mean(axis=0)


def test_export_windows(tmp_path, anomalies):
    store, start, end, expected = anomalies
    assert end[-1] > np.datetime64("1997-01-01")  # filed under the year of its start
    out = tmp_path / "icgem" / "AO_1996.tar.gz"
    names = export_windows(store, out)
    assert not temporary_path(out).exists()
    want = [f"AO/1996/{window_name('AO', s, e)}" for s, e in zip(start, end, strict=True)]
    assert names == want
    assert names[0] == "AO/1996/mtmshc_AO_19960106_00_19960116_00.180"
    with tarfile.open(out, "r:gz") as tar:
        members = tar.getmembers()
        files = [m for m in members if m.isfile()]
        assert {m.name for m in members if m.isdir()} == {"AO", "AO/1996"}
        assert [m.name for m in files] == want
        for m, ref in zip(files, expected, strict=True):
            cs, header = read_icgem(tar.extractfile(m).read(), nmax=NMAX)
            np.testing.assert_allclose(cs, ref, rtol=5.1e-13, atol=1e-300)
            assert header["gm"] == 3.9e14 and header["radius"] == 6.4e6
            assert header["modelname"] == m.name.split("/")[-1][: -len(".180")]
    # the same content gives the same bytes
    again = tmp_path / "again.tar.gz"
    export_windows(store, again)
    assert again.read_bytes() == out.read_bytes()


def test_window_names_use_start_hour(tmp_path, anomalies):
    store, start, end, _ = anomalies
    # 10-day windows from 1995-01-01 00 h start at 00 h; the hour is in the name's _HH part
    assert window_name("AO", np.datetime64("1996-01-01T18:00:00"), end[0]).startswith(
        "mtmshc_AO_19960101_18_"
    )


def test_failure_leaves_nothing(tmp_path):
    out = tmp_path / "x.tar.gz"
    with pytest.raises(OSError):
        export_windows(tmp_path / "missing.h5", out)
    assert not out.exists() and not temporary_path(out).exists()
