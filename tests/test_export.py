"""NetCDF-CF and ICGEM exports of the separated fields."""

import os
import shutil
import subprocess
import tarfile

import apt_helpers
import h5py
import numpy as np
import pytest
from gravsep.dataset.sampling import cube_to_samples, mix, random_mixing, read_cube, resample_time
from gravsep.export import icgem as export_icgem
from gravsep.export import netcdf as export_netcdf
from gravsep.export import separated as export
from gravsep.export.fields import window_bounds
from gravsep.formats.evaluation import Evaluation, write_evaluation
from gravsep.formats.icgem import read_icgem
from gravsep.formats.predictions import PredictionsWriter
from gravsep.formats.samples import SamplesWriter
from gravsep.harmonics.grids import analyze, lat_lon, synthesize
from gravsep.harmonics.units import stokes_to_ewh

COMPONENTS = ["AO", "H", "I"]
NMAX = 7
DIM = 16  # grid_size(7)
NUMT = 5
DELTAT = 168


def band_limited_cube(rng, numt=NUMT, amp=0.05):
    """``(C, DIM, DIM, numt)`` EWH grids [m] of random coefficients to degree NMAX."""
    cs = amp * rng.standard_normal((len(COMPONENTS), numt, 2, NMAX + 1, NMAX + 1))
    cs[..., 1, :, 0] = 0.0
    cs *= np.tri(NMAX + 1)  # m <= n
    grids = synthesize(cs, DIM)  # (C, numt, DIM, DIM)
    return np.moveaxis(grids, 1, -1).astype(np.float32)


def write_case(tmp_path, sampling="lat_lon", noise=0.0, mixing=False, seed=0):
    """Dataset (test year 2003 only), predictions and evaluation file of a small global case."""
    rng = np.random.default_rng(seed)
    lat, lon = lat_lon(DIM)
    truth = band_limited_cube(rng)
    pred_cube = 0.8 * truth + band_limited_cube(rng, amp=0.01)
    if noise:
        pred_cube = pred_cube + noise * rng.standard_normal(pred_cube.shape).astype(np.float32)
    g = g_pinv = None
    if mixing:
        g, g_pinv = random_mixing(DIM, 2 * DIM, seed=3)
    dataset = tmp_path / "samples.h5"
    predictions = tmp_path / "predictions.h5"

    def samples(cube):
        s = cube_to_samples(resample_time(cube, DIM), sampling)
        return (s if g is None else mix(s, g)).astype(np.float32)

    split = {"train_years": [2001], "validation_years": [2002], "test_years": [2003]}
    with SamplesWriter(dataset, components=COMPONENTS, sampling=sampling, lat=lat, lon=lon,
                       split=split, dtype=np.float32, g=g, g_pinv=g_pinv, dim_global=DIM,
                       nmax=NMAX, nmax_flt=5, unit="EWH") as w:  # fmt: skip
        inp, target = w.add_year(2003, NUMT)
        target[...] = samples(truth)
        inp[...] = samples(truth).sum(axis=-1)
        t0 = np.datetime64("2003-01-04T12", "s").astype(np.int64)
        w.set_times(2003, t0 + 7 * 86400 * np.arange(NUMT, dtype=np.int64))
    with PredictionsWriter(
        predictions,
        components=COMPONENTS,
        sampling=sampling,
        model="m1",
        inference_mode="deterministic",
        batch_size=1,
        split=split,
    ) as w:
        w.add_year(2003, NUMT, samples(pred_cube))
    evaluation = tmp_path / "evaluation.h5"
    ev = Evaluation(
        attrs={"labels": COMPONENTS + ["sum"], "year": 2003, "best_epoch": 4},
        lat=lat, lon=lon, time=np.zeros(NUMT, np.int64), profiles={}, maps={},
        relative_rms={"unet": np.array([0.1, 0.2, 0.3, 0.15]), "zero": np.ones(4)},
    )  # fmt: skip
    write_evaluation(evaluation, ev)
    # what the export should contain: the stored samples mapped back to the windows
    with h5py.File(dataset, "r") as fd, h5py.File(predictions, "r") as fp:
        expect = {
            "prediction": read_cube(fp["years/2003/prediction"], sampling, NUMT, g_pinv),
            "truth": read_cube(fd["years/2003/target"], sampling, NUMT, g_pinv),
            "input": read_cube(fd["years/2003/input"], sampling, NUMT, g_pinv),
        }
    return dataset, predictions, evaluation, expect


def run_export(tmp_path, **kwargs):
    dataset, predictions, evaluation, expect = write_case(tmp_path, **kwargs)
    nc = tmp_path / "export" / "separated.nc"
    tar = tmp_path / "export" / "separated_icgem.tar.gz"
    result = export.export(
        dataset, predictions, nc, tar, model="m1", evaluation_h5=evaluation, deltat_hours=DELTAT
    )
    return nc, tar, result, expect


@pytest.mark.parametrize(
    ("sampling", "mixing"), [("lat_lon", False), ("lat_t", False), ("t_lon", True)]
)
def test_netcdf_cf(tmp_path, sampling, mixing):
    xr = pytest.importorskip("xarray")
    nc, _, result, expect = run_export(tmp_path, sampling=sampling, mixing=mixing)
    assert result["windows"] == NUMT
    assert not list(nc.parent.glob(".tmp-*"))
    lat, lon = lat_lon(DIM)
    with xr.open_dataset(nc, engine="h5netcdf") as ds:
        assert ds.attrs["Conventions"] == "CF-1.8"
        for key in ("title", "history", "source", "institution", "references"):
            assert ds.attrs[key]
        assert ds.attrs["best_epoch"] == 4
        assert dict(ds.sizes) == {"time": NUMT, "lat": DIM, "lon": DIM, "nv": 2}
        np.testing.assert_allclose(ds["lat"], lat)
        np.testing.assert_allclose(ds["lon"], lon)
        assert ds["lat"].attrs["units"] == "degrees_north"
        assert ds["lon"].attrs["units"] == "degrees_east"
        assert ds["lat"].attrs["standard_name"] == "latitude"
        assert ds["time"].attrs["standard_name"] == "time"
        assert ds["time"].encoding["units"] == export_netcdf.TIME_UNITS
        mids = np.datetime64("2003-01-04T12", "ns") + np.arange(NUMT) * np.timedelta64(7, "D")
        np.testing.assert_array_equal(ds["time"].values, mids)
        np.testing.assert_array_equal(
            ds["time_bnds"].values[0],
            np.array(["2003-01-01T00", "2003-01-08T00"], dtype="datetime64[ns]"),
        )
        for c, comp in enumerate(COMPONENTS):
            for kind in ("prediction", "truth"):
                var = ds[f"{kind}_{comp}"]
                assert var.dims == ("time", "lat", "lon")
                assert var.attrs["units"] == "m"
                assert var.attrs["long_name"].startswith(
                    "predicted" if kind == "prediction" else "true"
                )
                assert var.attrs["cell_methods"] == "time: mean"
                assert var.dtype == np.float32
                np.testing.assert_array_equal(
                    var.values, np.moveaxis(expect[kind][c], -1, 0).astype(np.float32)
                )
        assert ds["prediction_H"].attrs["relative_rms_error"] == pytest.approx(0.2)
        np.testing.assert_array_equal(ds["input"].values, np.moveaxis(expect["input"], -1, 0))


def _ncdump():
    """Path of ncdump; installs netcdf-bin with apt where that is quick and possible."""
    path = shutil.which("ncdump")
    if path or os.geteuid() != 0 or not shutil.which("apt-get"):
        return path
    try:
        apt_helpers.apt_get("install", "-y", "--no-install-recommends", "netcdf-bin", timeout=120)
    except subprocess.TimeoutExpired:
        return None
    return shutil.which("ncdump")


def test_ncdump_header(tmp_path):
    nc, *_ = run_export(tmp_path)
    ncdump = _ncdump()
    if ncdump is None:
        pytest.skip("ncdump not available (netcdf-bin could not be installed)")
    out = subprocess.run([ncdump, "-h", str(nc)], capture_output=True, text=True, check=True)
    head = out.stdout
    assert ':Conventions = "CF-1.8"' in head
    assert "float prediction_AO(time, lat, lon)" in head
    assert 'time:units = "days since 1970-01-01' in head
    assert 'prediction_AO:units = "m"' in head
    assert "string " not in head  # classic char attributes, not HDF5 strings


def _members(tar_path):
    with tarfile.open(tar_path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_icgem_archive_roundtrip(tmp_path):
    _, tar, result, expect = run_export(tmp_path)
    files = _members(tar)
    assert "README.txt" in files
    names = sorted(n for n in files if n.endswith(".180"))
    assert names == sorted(result["icgem"])
    assert len(names) == len(COMPONENTS) * NUMT
    assert "AO/mtmshc_AO_20030101_00_20030108_00.180" in names
    assert "I/mtmshc_I_20030129_00_20030205_00.180" in names
    for c, comp in enumerate(COMPONENTS):
        for k in range(NUMT):
            start = np.datetime64("2003-01-01T00") + np.timedelta64(7 * k, "D")
            stem = f"{start.astype(object):%Y%m%d_%H}"
            name = next(n for n in names if n.startswith(f"{comp}/mtmshc_{comp}_{stem}"))
            text = files[name].decode()
            assert "NOT undone" in text
            cs, header = read_icgem(files[name])
            assert header["max_degree"] == NMAX
            grid = synthesize(stokes_to_ewh(cs), DIM)
            # the predictions are band-limited to NMAX: the round trip is exact
            pred = expect["prediction"][c, :, :, k]
            np.testing.assert_allclose(grid, pred, atol=1e-6 * np.abs(pred).max())


def test_icgem_truncates_unresolved_signal(tmp_path):
    """With white noise in the prediction, the files hold its part up to NMAX."""
    _, tar, _, expect = run_export(tmp_path, noise=0.01)
    files = _members(tar)
    name = next(n for n in files if n.startswith("H/mtmshc_H_20030115_00"))
    cs, _ = read_icgem(files[name])
    pred = expect["prediction"][1, :, :, 2]
    truncated = synthesize(analyze(pred, lmax=NMAX), DIM)
    assert np.abs(pred - truncated).max() > 1e-3  # the noise has degrees above NMAX
    np.testing.assert_allclose(
        synthesize(stokes_to_ewh(cs), DIM), truncated, atol=1e-6 * np.abs(pred).max()
    )


def test_regional_archive_has_readme_only(tmp_path):
    sep = {
        "attrs": {"nmax": NMAX},
        "components": COMPONENTS,
        "years": [2003],
        "lat": lat_lon(DIM)[0][2:10],
        "lon": lat_lon(DIM)[1][4:12],
        "time": np.array([0, 604800]),
        "prediction": np.zeros((3, 8, 8, 2), dtype=np.float32),
    }
    tar = tmp_path / "r.tar.gz"
    assert export_icgem.write_icgem_archive(sep, tar) == []
    files = _members(tar)
    assert list(files) == ["README.txt"]
    assert b"regional" in files["README.txt"]


def test_window_bounds():
    mid = np.array([302400, 907200])  # 1970-01-04T12, one week later
    np.testing.assert_array_equal(window_bounds(mid, 168), [[0, 604800], [604800, 1209600]])
    np.testing.assert_array_equal(window_bounds(mid), window_bounds(mid, 168))
    with pytest.raises(ValueError, match="deltat"):
        window_bounds(mid[:1])


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    dataset, predictions, evaluation, _ = write_case(tmp_path)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_icgem, "format_icgem", boom)
    out = tmp_path / "export"
    with pytest.raises(RuntimeError, match="disk full"):
        export.export(dataset, predictions, out / "s.nc", out / "s.tar.gz", deltat_hours=DELTAT)
    assert sorted(p.name for p in out.iterdir()) == ["s.nc"]
