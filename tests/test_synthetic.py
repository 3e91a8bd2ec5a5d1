"""Tests of the synthetic Earth System Model (gravsep.synthetic) and its masks.

Models are built at degree 15 for one or two years to stay fast.
"""

import tarfile

import numpy as np
import pytest
from gravsep.formats.archive import archive_name, member_name, unpack_archive, year_epochs
from gravsep.formats.icgem import format_icgem, read_icgem
from gravsep.harmonics.grids import lat_lon, synthesize
from gravsep.synthetic import archives, landmask
from gravsep.synthetic import model as synthetic

NMAX = 15
SEED = 20140101
YEARS = (1995, 1996)


@pytest.fixture(scope="module")
def model():
    return synthetic.build_model(YEARS, NMAX, seed=SEED)


@pytest.fixture(scope="module")
def grid():
    """Grid, masks and area weights at the model's fine resolution."""
    dim = 4 * (NMAX + 1)
    lat, lon = lat_lon(dim)
    land = landmask.land_mask(lat, lon)
    ice = landmask.ice_mask(lat, lon)
    sheets = landmask.ice_sheet_mask(lat, lon)
    weight = np.cos(np.deg2rad(lat))[:, None] * np.ones(dim)

    def erode(mask, k=2):
        out = mask.copy()
        for di in range(-k, k + 1):
            for dj in range(-k, k + 1):
                out &= np.roll(np.roll(mask, di, axis=0), dj, axis=1)
        return out

    return {
        "dim": dim,
        "lat": lat,
        "lon": lon,
        "land": land,
        "ice": ice,
        "weight": weight,
        "inland": erode(land & ~sheets),  # at least 2 cells (~6 degrees) from the sea
        "open_ocean": erode(~land),
        "far_from_ice": erode(~ice),
    }


def anomaly_grids(model, letter, year, dim, step=4):
    """EWH grids [m] of every step-th epoch of a year, that year's mean removed."""
    _, cs = synthetic.epoch_coefficients(model, letter, year, unit="ewh")
    cs = cs - cs.mean(axis=0)
    return synthesize(cs[::step], dim)


def rms(fields, weight, mask):
    """Area-weighted RMS over a mask and over time."""
    w = weight * mask
    return float(np.sqrt((fields**2 * w).sum() / (w.sum() * fields.shape[0])))


def nearest(grid, lat, lon):
    return int(np.argmin(np.abs(grid["lat"] - lat))), int(np.argmin(np.abs(grid["lon"] - lon)))


# ------------------------------------------------------------------------------------------
# masks


def test_land_mask_known_points():
    lat = np.array([23.0, 0.0, 72.0, -85.0, 30.0, 48.0, -25.0])
    lon = np.array([10.0, 200.0, 318.0, 30.0, 320.0, 2.0, 135.0])
    names = ["Sahara", "Pacific", "Greenland", "Antarctica", "Atlantic", "France", "Australia"]
    want = [True, False, True, True, False, True, True]
    mask = landmask.land_mask(lat, lon)
    got = [bool(mask[i, i]) for i in range(lat.size)]
    assert dict(zip(names, got, strict=True)) == dict(zip(names, want, strict=True))


def test_land_mask_longitude_conventions():
    lat, lon = lat_lon(32)
    east = landmask.land_mask(lat, lon)
    west = landmask.land_mask(lat, np.where(lon > 180.0, lon - 360.0, lon))
    np.testing.assert_array_equal(east, west)
    area = (east * np.cos(np.deg2rad(lat))[:, None]).sum() / (np.cos(np.deg2rad(lat)).sum() * 32)
    assert 0.24 < area < 0.34  # about 29 % of the Earth is land


def test_ice_masks_regions():
    lat, lon = lat_lon(128)
    masks = landmask.ice_masks(lat, lon)
    assert tuple(masks) == landmask.ICE_REGIONS
    total = np.sum([m.astype(int) for m in masks.values()], axis=0)
    assert total.max() == 1  # disjoint
    land = landmask.land_mask(lat, lon)
    assert not (np.logical_or.reduce(list(masks.values())) & ~land).any()

    def at(name, la, lo):
        return bool(masks[name][np.argmin(np.abs(lat - la)), np.argmin(np.abs(lon - lo))])

    assert at("greenland", 72.0, 318.0)
    assert not at("canadian_arctic", 72.0, 318.0)
    assert at("antarctica_west", -78.0, 250.0)
    assert at("antarctica_east", -75.0, 100.0)
    assert at("alaska", 63.0, 215.0)
    assert at("patagonia", -49.0, 286.5)
    assert not masks["greenland"][np.argmin(np.abs(lat - 23.0)), :].any()


# ------------------------------------------------------------------------------------------
# determinism and API


def test_same_seed_same_model_other_seed_differs(model):
    again = synthetic.build_model(YEARS, NMAX, seed=SEED)
    other = synthetic.build_model(YEARS, NMAX, seed=SEED + 1)
    np.testing.assert_array_equal(model.epochs, again.epochs)
    for letter in "AOHIS":
        np.testing.assert_array_equal(model[letter].modes, again[letter].modes)
        np.testing.assert_array_equal(model[letter].series, again[letter].series)
        _, a = synthetic.epoch_coefficients(model, letter, 1995)
        _, b = synthetic.epoch_coefficients(other, letter, 1995)
        assert np.abs(a - b).max() > 0.1 * np.abs(a).max(), letter


def test_letter_does_not_depend_on_other_letters(model):
    only = synthetic.build_model(YEARS, NMAX, seed=SEED, letters="H")
    assert list(only.components) == ["H"]
    np.testing.assert_array_equal(only["H"].modes, model["H"].modes)
    np.testing.assert_array_equal(only["H"].series, model["H"].series)


def test_scale_multiplies_one_letter(model):
    scaled = synthetic.build_model(YEARS, NMAX, seed=SEED, scale={"S": 2.0}, letters="SI")
    np.testing.assert_array_equal(scaled["S"].series, 2.0 * model["S"].series)
    np.testing.assert_array_equal(scaled["I"].series, model["I"].series)
    assert scaled["S"].scale == 2.0
    with pytest.raises(ValueError, match="unknown letters"):
        synthetic.build_model(YEARS, NMAX, seed=SEED, scale={"X": 1.0})


def test_save_load_round_trip(model, tmp_path):
    path = tmp_path / "model.h5"
    synthetic.save_model(model, path)
    back = synthetic.load_model(path)
    assert (back.seed, back.nmax, back.years) == (SEED, NMAX, YEARS)
    np.testing.assert_array_equal(back.epochs, model.epochs)
    assert back.epochs.dtype == np.dtype("datetime64[s]")
    for letter in "AOHIS":
        np.testing.assert_array_equal(back[letter].modes, model[letter].modes)
        np.testing.assert_array_equal(back[letter].series, model[letter].series)
        assert back[letter].names == model[letter].names


def test_epoch_coefficients_shape_and_degree0(model):
    epochs, cs = synthetic.epoch_coefficients(model, "A", 1995)
    np.testing.assert_array_equal(epochs, year_epochs(1995))
    assert cs.shape == (1460, 2, NMAX + 1, NMAX + 1)
    assert np.all(cs[:, :, 0, 0] == 0.0)
    assert np.all(cs[:, 1, :, 0] == 0.0)  # no S_n0
    assert np.all(np.triu(np.ones((NMAX + 1, NMAX + 1)), 1) * cs == 0.0)  # m <= n only
    assert 1e-12 < np.abs(cs).max() < 1e-7  # dimensionless Stokes coefficients
    with pytest.raises(ValueError, match="outside the model"):
        synthetic.epoch_coefficients(model, "A", 1997)


def test_model_covers_the_years_continuously():
    m = synthetic.build_model([1996, 1995], NMAX, seed=SEED, letters="S")
    assert m.years == (1995, 1996)
    assert m.epochs.size == 1460 + 1464
    assert np.all(np.diff(m.epochs) == np.timedelta64(6, "h"))


# ------------------------------------------------------------------------------------------
# archives


def test_archive_layout_and_content(model, tmp_path):
    path = tmp_path / archive_name(1995, "O")
    archives.write_year_archive(model, "O", 1995, path)
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    dirs = [m.name for m in members if m.isdir()]
    files = [m.name for m in members if m.isfile()]
    assert dirs == [f"1995-{mo:02d}" for mo in range(1, 13)]
    assert len(files) == 1460
    assert files[0] == "1995-01/mtmshc_O_19950101_00.180"
    assert files[5] == "1995-01/mtmshc_O_19950102_06.180"
    assert files[-1] == "1995-12/mtmshc_O_19951231_18.180"
    unpacked = unpack_archive(path, tmp_path / "flat", "O", 1995)
    assert len(unpacked) == 1460
    epochs, cs = synthetic.epoch_coefficients(model, "O", 1995)
    for k in (0, 733, 1459):
        assert unpacked[k].name == member_name("O", epochs[k])
        got, header = read_icgem(unpacked[k])
        assert header["max_degree"] == NMAX
        assert "synthetic" in header["modelname"]
        np.testing.assert_allclose(got, cs[k], rtol=1e-6, atol=1e-6 * np.abs(cs[k]).max())


def test_leap_year_archive_has_1464_epochs(model, tmp_path):
    path = tmp_path / archive_name(1996, "S")
    archives.write_year_archive(model, "S", 1996, path)
    files = unpack_archive(path, tmp_path / "flat", "S", 1996)
    assert len(files) == 1464
    assert files[-1].name == "mtmshc_S_19961231_18.180"
    assert any(f.name == "mtmshc_S_19960229_12.180" for f in files)


def test_archive_bytes_are_reproducible(model, tmp_path):
    again = synthetic.build_model(YEARS, NMAX, seed=SEED, letters="I")
    other = synthetic.build_model(YEARS, NMAX, seed=SEED + 1, letters="I")
    paths = [tmp_path / f"{k}" / archive_name(1995, "I") for k in range(3)]
    for m, p in zip([model, again, other], paths, strict=True):
        archives.write_year_archive(m, "I", 1995, p)
    data = [p.read_bytes() for p in paths]
    assert data[0] == data[1]
    assert data[0] != data[2]


@pytest.mark.parametrize("digits", [None, 7])
def test_fast_formatter_matches_format_icgem(model, digits):
    texts = archives.format_epochs(model, "H", 1995, digits=digits)
    epoch, text = next(texts)
    comments = [c.replace("@EPOCH@", str(epoch)) for c in archives._comments(model, "H")]
    _, cs = synthetic.epoch_coefficients(model, "H", 1995)
    if digits is None:
        values = cs[0]
    else:
        values, _ = read_icgem(text)  # the rounded numbers
        np.testing.assert_allclose(values, cs[0], rtol=5e-7, atol=1e-20)
        assert values[0, 2, 0] != cs[0, 0, 2, 0]  # really rounded
    expected = format_icgem(values, modelname="gravsep_synthetic_ESM_H", comments=comments)
    assert text == expected


# ------------------------------------------------------------------------------------------
# physics


def test_amplitudes_in_the_expected_ranges(model, grid):
    stats = synthetic.summary(model)
    # global RMS about the yearly mean [m of EWH]
    assert 0.02 < stats["A"]["rms_about_year_mean"] < 0.08
    assert 0.005 < stats["O"]["rms_about_year_mean"] < 0.03
    assert 0.01 < stats["H"]["rms_about_year_mean"] < 0.06
    assert 0.001 < stats["I"]["rms_about_year_mean"] < 0.02
    assert 2e-5 < stats["S"]["rms_about_year_mean"] < 2e-3  # tenths of mm
    fields = {c: anomaly_grids(model, c, 1995, grid["dim"]) for c in "OHS"}
    h_land = rms(fields["H"], grid["weight"], grid["inland"])
    assert 0.02 < h_land < 0.15  # several cm over land
    assert np.abs(fields["H"]).max() > 0.12  # > 12 cm in places
    o_ocean = rms(fields["O"], grid["weight"], grid["open_ocean"])
    assert 0.008 < o_ocean < 0.03
    s_max = np.abs(fields["S"]).max()
    assert 2e-4 < s_max < 1e-2  # millimetres


def test_ocean_is_zero_over_land(model, grid):
    o = anomaly_grids(model, "O", 1995, grid["dim"])
    inland = rms(o, grid["weight"], grid["inland"])
    ocean = rms(o, grid["weight"], grid["open_ocean"])
    assert inland < 0.2 * ocean


def test_hydrology_is_land_only(model, grid):
    h = anomaly_grids(model, "H", 1995, grid["dim"])
    land = rms(h, grid["weight"], grid["inland"])
    # over the open ocean only the uniform barystatic layer (plus truncation ripples)
    ocean = grid["open_ocean"]
    w = grid["weight"] * ocean
    layer = (h * w).sum(axis=(1, 2)) / w.sum()
    ripple = rms(h - layer[:, None, None], grid["weight"], ocean)
    assert ripple < 0.2 * land
    assert rms(layer[:, None, None] * np.ones_like(h[:1]), grid["weight"], ocean) < 0.3 * land


def test_ice_is_concentrated_on_ice_regions(model, grid):
    ice = anomaly_grids(model, "I", 1995, grid["dim"])
    on_ice = rms(ice, grid["weight"], grid["ice"])
    far = rms(ice, grid["weight"], grid["far_from_ice"])
    assert on_ice > 0.01  # centimetres
    assert far < 0.15 * on_ice


def test_greenland_loses_mass(model, grid):
    _, cs = synthetic.epoch_coefficients(model, "I", 1995, unit="ewh")
    i, j = nearest(grid, 68.0, 310.0)
    g = synthesize(cs[::120], grid["dim"])[:, i, j]
    # end of the melt season (September) below the spring maximum (May)
    may, sep = g[4 * 1460 // 12 // 120], g[8 * 1460 // 12 // 120]
    assert sep < may - 0.02
    _, cs2 = synthetic.epoch_coefficients(model, "I", 1996, unit="ewh")
    g2 = synthesize(cs2[::120], grid["dim"])[:, i, j]
    assert g2.mean() < g.mean() - 0.02  # several cm per year of loss


def _fit(t, y, annual=True):
    """Least squares of y (T, ...) on [1, t] (+ annual cos, sin); returns coefficients."""
    cols = [np.ones_like(t), t]
    if annual:
        cols += [np.cos(2 * np.pi * t), np.sin(2 * np.pi * t)]
    design = np.stack(cols, axis=1)
    coef, *_ = np.linalg.lstsq(design, y.reshape(t.size, -1), rcond=None)
    return design, coef


def test_solid_earth_has_a_gia_trend(model, grid):
    _, c1 = synthetic.epoch_coefficients(model, "S", 1995, unit="ewh")
    _, c2 = synthetic.epoch_coefficients(model, "S", 1996, unit="ewh")
    cs = np.concatenate([c1, c2])[::40]
    t = np.arange(cs.shape[0]) * 40 * 0.25 / 365.25  # years
    g = synthesize(cs, grid["dim"])
    i, j = nearest(grid, 60.0, 275.0)  # Hudson Bay
    _, coef = _fit(t, g[:, i, j], annual=False)
    assert 1e-3 < coef[1, 0] < 1e-2  # uplift/mass gain of mm per year
    i, j = nearest(grid, 64.0, 20.0)  # Fennoscandia
    _, coef = _fit(t, g[:, i, j], annual=False)
    assert coef[1, 0] > 5e-4


def test_solid_earth_has_steps():
    m = synthetic.build_model([1995, 1996, 1997], NMAX, seed=SEED, letters="S")
    names = m["S"].names
    quakes = [k for k, n in enumerate(names) if n.startswith("quake_")]
    assert quakes
    series = m["S"].series[:, quakes[0]]
    jump = np.flatnonzero(np.diff(series) > 0.5)
    assert jump.size == 1  # one step, then slow relaxation
    assert np.all(series[: jump[0] + 1] == 0.0)


def test_hydrology_has_an_annual_cycle(model):
    _, c1 = synthetic.epoch_coefficients(model, "H", 1995, unit="ewh")
    _, c2 = synthetic.epoch_coefficients(model, "H", 1996, unit="ewh")
    cs = np.concatenate([c1, c2])[::20]
    t = np.arange(cs.shape[0]) * 20 * 0.25 / 365.25
    y = cs.reshape(cs.shape[0], -1)
    design, coef = _fit(t, y)
    explained = ((design[:, 2:] @ coef[2:]) ** 2).sum()
    total = ((y - y.mean(axis=0)) ** 2).sum()
    assert explained > 0.5 * total
    # the atmosphere, for contrast, is mostly non-seasonal
    _, a1 = synthetic.epoch_coefficients(model, "A", 1995, unit="ewh")
    _, a2 = synthetic.epoch_coefficients(model, "A", 1996, unit="ewh")
    ya = np.concatenate([a1, a2])[::20].reshape(cs.shape[0], -1)
    design, coef = _fit(t, ya)
    assert ((design[:, 2:] @ coef[2:]) ** 2).sum() < 0.3 * ((ya - ya.mean(axis=0)) ** 2).sum()


@pytest.mark.parametrize("letter", ["S", "I"])
def test_mode_shares_against_the_field_without_the_mode(model, letter):
    """A mode's share equals RMS(field - field without that mode) / RMS(field), computed from
    the 6-hourly coefficients (weekly means, year mean removed, degree <= 10)."""
    import copy

    year, nmax = YEARS[-1], 10
    shares = synthetic.mode_shares(model, letter, year, nmax=nmax)
    comp = model.components[letter]
    assert set(shares) == set(comp.names)

    def weekly(m):
        _, cs = synthetic.epoch_coefficients(m, letter, year, unit="ewh")
        cs = cs[: cs.shape[0] // 28 * 28, :, : nmax + 1, : nmax + 1]
        w = cs.reshape(-1, 28, *cs.shape[1:]).mean(axis=1)
        return w - w.mean(axis=0)

    full = weekly(model)
    for k, name in enumerate(comp.names[:4]):
        other = copy.deepcopy(model)
        other.components[letter].series[:, k] = 0.0
        part = full - weekly(other)
        expected = np.sqrt((part**2).sum() / (full**2).sum())
        np.testing.assert_allclose(shares[name], expected, rtol=1e-9, atol=1e-15)
