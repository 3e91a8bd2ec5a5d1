"""Input-target pairs (gravsep.dataset.build): streamed build against a plain float64 one."""

import json

import h5py
import numpy as np
import pytest
from gravsep.atomic import temporary_path
from gravsep.dataset.build import build_dataset, component_cube, regional_window
from gravsep.formats.store import StoreWriter
from gravsep.harmonics import filtering, grids, units

NMAX = 7  # grid 16 x 16
COMPS = ["AO", "H", "I"]
YEARS = [1995, 1996]
SPLIT = {"train_years": [1995], "validation_years": [1996], "test_years": []}
WEEK = 7 * 86400


def make_stores(folder, n_windows):
    """Anomaly stores of random coefficients; ``n_windows[(comp, year)]`` windows each."""
    rng = np.random.default_rng(11)
    stores = {}
    for (comp, year), nw in n_windows.items():
        cs = rng.normal(size=(nw, 2, NMAX + 1, NMAX + 1)) * 1e-9 * np.tri(NMAX + 1)
        cs[:, 1, :, 0] = 0.0
        t0 = int(np.datetime64(f"{year}-01-01T00:00:00", "s").astype(np.int64))
        start = t0 + WEEK * np.arange(nw)
        path = folder / f"{comp}_{year}.h5"
        with StoreWriter(path, comp, year, NMAX, nw, "anomalies", 3.986e14, 6.378e6) as w:
            w.write(0, cs, start)
            w.set_window_ends(start + WEEK)
        stores[(comp, year)] = path
    return stores


def reference(stores, year, comps, samp, nmax_flt, row0, col0, dim, g=None):
    """Float64 throughout, the time interpolation point by point (np.interp)."""
    cubes = []
    for comp in comps:
        with h5py.File(stores[(comp, year)], "r") as f:
            cs = f["cs"][:]
        if nmax_flt:
            cs = cs * filtering.gaussian_weights(NMAX, filtering.half_width_km(nmax_flt))[:, None]
        ewh = units.stokes_to_ewh(cs)
        cube = np.moveaxis(grids.synthesize(ewh, grids.grid_size(NMAX)), 0, -1)  # zero-padded
        cubes.append(cube[row0 : row0 + dim, col0 : col0 + dim])
    numt = min(c.shape[-1] for c in cubes)
    pos = np.linspace(0.0, numt - 1.0, dim)
    res = np.empty((len(comps), dim, dim, dim))
    for c, cube in enumerate(cubes):
        for i in range(dim):
            for j in range(dim):
                res[c, i, j] = np.interp(pos, np.arange(numt), cube[i, j, :numt])
    order = {"lat_lon": (2, 0, 1), "lat_t": (1, 0, 2), "t_lon": (0, 2, 1)}[samp]
    target = res.transpose(tuple(a + 1 for a in order) + (0,))
    if g is not None:
        target = np.einsum("kj,j...->k...", g, target)
    return target, target.sum(axis=-1), numt


def assert_storage_equal(got, ref):
    """Equal to float32 precision (relative, plus a floor far below the signal)."""
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got, ref, rtol=1.2e-7, atol=1e-12 * scale)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    # components of unequal length: every year is cut to its shortest component
    n = {(c, y): 5 for c in COMPS for y in YEARS}
    n[("H", 1995)] = 4
    return make_stores(tmp_path_factory.mktemp("anomalies"), n)


@pytest.mark.parametrize("samp", ["lat_lon", "lat_t", "t_lon"])
def test_global_matches_reference(tmp_path, stores, samp):
    out = tmp_path / "samples.h5"
    build_dataset(stores, out, COMPS, YEARS, SPLIT, 5, "EWH", {"type": "global"}, samp)
    assert not temporary_path(out).exists()
    with h5py.File(out, "r") as f:
        assert f.attrs["dim"] == 16 and f.attrs["dim_global"] == 16
        assert f.attrs["row0"] == 0 and f.attrs["col0"] == 0
        assert "random" not in f
        for year in YEARS:
            grp = f[f"years/{year}"]
            target, inp = grp["target"], grp["input"]
            assert target.dtype == np.float32 and inp.dtype == np.float32
            assert target.shape == (16, 16, 16, 3) and inp.shape == (16, 16, 16)
            assert target.chunks == (1, 16, 16, 3) and inp.chunks == (1, 16, 16)
            ref_t, ref_i, numt = reference(stores, year, COMPS, samp, 5, 0, 0, 16)
            assert grp.attrs["numt"] == numt == (4 if year == 1995 else 5)
            assert_storage_equal(target[()], ref_t)
            assert_storage_equal(inp[()], ref_i)
            # the input is the sum of the stored targets
            np.testing.assert_allclose(
                inp[()], target[()].sum(axis=-1), atol=1e-6 * np.abs(ref_t).max()
            )
            assert len(grp["time"]) == numt
            np.testing.assert_allclose(grp["doy"][()], 1.0 + 3.5 + 7 * np.arange(numt))


def test_float64_storage(tmp_path, stores):
    out = tmp_path / "samples.h5"
    build_dataset(
        stores, out, COMPS, YEARS[:1], SPLIT, 0, "EWH", {"type": "global"}, "lat_lon",
        dtype="float64",
    )  # fmt: skip
    with h5py.File(out, "r") as f:
        got = f["years/1995/target"][()]
    assert got.dtype == np.float64
    ref, _, _ = reference(stores, 1995, COMPS, "lat_lon", 0, 0, 0, 16)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14 * np.abs(ref).max())
    with pytest.raises(ValueError, match="floating"):
        build_dataset(stores, out, COMPS, YEARS, SPLIT, 0, "EWH", {}, "lat_lon", dtype="int16")


@pytest.mark.parametrize("samp", ["lat_lon", "lat_t", "t_lon"])
def test_random_samples(tmp_path, stores, samp):
    out = tmp_path / "samples.h5"
    build_dataset(
        stores, out, COMPS, YEARS[:1], SPLIT, 5, "EWH", {"type": "global"}, samp,
        random_samples=True, seed=4,
    )  # fmt: skip
    with h5py.File(out, "r") as f:
        assert f.attrs["random_samples"]
        g, g_pinv = f["random/g"][()], f["random/g_pinv"][()]
        assert g.shape == (32, 16) and g_pinv.shape == (16, 32)
        np.testing.assert_allclose(g_pinv @ g, np.eye(16), atol=1e-10)
        target, inp = f["years/1995/target"][()], f["years/1995/input"][()]
    assert target.shape == (32, 16, 16, 3) and inp.shape == (32, 16, 16)
    ref_t, ref_i, _ = reference(stores, 1995, COMPS, samp, 5, 0, 0, 16, g=g)
    # mixing sums 16 samples: float32 rounding of the result, plus float64 cancellation
    scale = np.abs(ref_t).max()
    np.testing.assert_allclose(target, ref_t, rtol=2e-7, atol=1e-10 * scale)
    np.testing.assert_allclose(inp, ref_i, rtol=2e-7, atol=1e-10 * scale)
    # g_pinv maps the combinations back to the samples
    plain, _, _ = reference(stores, 1995, COMPS, samp, 5, 0, 0, 16)
    back = np.einsum("jk,k...->j...", g_pinv, target.astype(np.float64))
    np.testing.assert_allclose(back, plain, atol=1e-5 * scale)


def test_regional_window_is_centred_power_of_two_inside_grid():
    lat, lon = grids.lat_lon(512)
    row0, col0, size = regional_window(lat, lon, (45, 85), (220, 300))
    assert size == 128  # the box spans 57 rows and 114 columns
    rows = np.flatnonzero((lat >= 45) & (lat <= 85))
    cols = np.flatnonzero((lon >= 220) & (lon <= 300))
    assert row0 <= rows[0] and rows[-1] < row0 + size
    assert col0 <= cols[0] and cols[-1] < col0 + size
    assert abs((row0 + size / 2) - (rows[0] + rows[-1] + 1) / 2) <= 1
    assert abs((col0 + size / 2) - (cols[0] + cols[-1] + 1) / 2) <= 1
    # near the pole: shifted to stay inside the grid
    row0, col0, size = regional_window(lat, lon, (60, 90), (0, 10))
    assert row0 == 0 and size == 128 and 0 <= col0 <= 512 - size  # 86 rows
    row0, col0, size = regional_window(lat, lon, (-90, 90), (350, 359))
    assert size == 512 and row0 == 0 and col0 == 0
    with pytest.raises(ValueError, match="no grid point"):
        regional_window(lat, lon, (10, 10.1), (0, 0.1))


@pytest.mark.parametrize("samp", ["lat_lon", "t_lon"])
def test_regional_extent(tmp_path, stores, samp):
    out = tmp_path / "samples.h5"
    extent = {"type": "regional", "lat": [20, 60], "lon": [100, 170]}
    build_dataset(stores, out, COMPS, YEARS[:1], SPLIT, 5, "EWH", extent, samp)
    lat, lon = grids.lat_lon(16)
    row0, col0, dim = regional_window(lat, lon, extent["lat"], extent["lon"])
    assert dim == 4  # 4 rows, 3 columns
    with h5py.File(out, "r") as f:
        assert f.attrs["dim"] == dim and f.attrs["dim_global"] == 16
        assert (f.attrs["row0"], f.attrs["col0"]) == (row0, col0)
        assert json.loads(f.attrs["extent"]) == extent
        np.testing.assert_array_equal(f["lat"][()], lat[row0 : row0 + dim])
        np.testing.assert_array_equal(f["lon"][()], lon[col0 : col0 + dim])
        target, inp = f["years/1995/target"][()], f["years/1995/input"][()]
    assert target.shape == (dim, dim, dim, 3)
    ref_t, ref_i, _ = reference(stores, 1995, COMPS, samp, 5, row0, col0, dim)
    assert_storage_equal(target, ref_t)
    assert_storage_equal(inp, ref_i)


def test_component_cube_matches_padded_synthesis(stores):
    with h5py.File(stores[("H", 1995)], "r") as f:
        cs = f["cs"][:]
    cube = component_cube(cs, 0, 16)
    ref = np.moveaxis(grids.synthesize(units.stokes_to_ewh(cs), 16), 0, -1)
    assert cube.shape == (16, 16, 4)
    np.testing.assert_allclose(cube, ref, rtol=0, atol=1e-13 * np.abs(ref).max())


@pytest.mark.parametrize("samp", ["lat_lon", "t_lon"])
def test_block_by_block_background_writes_equal_one_block(tmp_path, stores, samp, monkeypatch):
    """Samples formed one at a time and written by the background writer equal one block."""
    import gravsep.dataset.build as dataset

    whole = tmp_path / "whole.h5"
    build_dataset(stores, whole, COMPS, YEARS, SPLIT, 5, "EWH", {"type": "global"}, samp)
    monkeypatch.setattr(dataset, "BLOCK_BYTES", 1)  # one sample per block: 16 writes a year
    blocks = tmp_path / "blocks.h5"
    build_dataset(stores, blocks, COMPS, YEARS, SPLIT, 5, "EWH", {"type": "global"}, samp)
    with h5py.File(whole, "r") as a, h5py.File(blocks, "r") as b:
        for year in YEARS:
            for name in ("input", "target"):
                np.testing.assert_array_equal(a[f"years/{year}/{name}"], b[f"years/{year}/{name}"])


def test_background_writer_raises_the_write_error(tmp_path):
    """A failed write in the writer thread is raised in the caller, after the earlier blocks."""
    from gravsep.dataset.build import _Writer

    with h5py.File(tmp_path / "x.h5", "w") as h:
        d = h.create_dataset("x", shape=(6, 3), dtype="f4")
        with pytest.raises((TypeError, ValueError)), _Writer(depth=1) as writer:
            writer.put(d, slice(0, 2), np.ones((2, 3)))
            writer.put(d, slice(2, 4), np.ones((5, 5)))  # wrong shape
            writer.put(d, slice(4, 6), np.ones((2, 3)))
        np.testing.assert_array_equal(d[0:2], 1.0)
        np.testing.assert_array_equal(d[2:4], 0.0)


def test_failed_build_leaves_no_file(tmp_path, stores, monkeypatch):
    """An error while a year is written removes the partial file; nothing is left."""
    import gravsep.dataset.build as dataset

    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        return original(*args)

    original = dataset._block_samples
    monkeypatch.setattr(dataset, "_block_samples", failing)
    monkeypatch.setattr(dataset, "BLOCK_BYTES", 1)
    out = tmp_path / "samples.h5"
    with pytest.raises(OSError, match="disk full"):
        build_dataset(stores, out, COMPS, YEARS, SPLIT, 5, "EWH", {"type": "global"}, "lat_lon")
    assert not out.exists() and not temporary_path(out).exists()
