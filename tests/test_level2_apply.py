"""Apply pieces without the workflow: model/data refusals, regions, the ensemble hook, config."""

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from gravsep.config import ConfigError, check, validate
from gravsep.harmonics.grids import lat_lon
from gravsep.level2.prepare import check_model
from gravsep.level2.products import ensemble
from gravsep.level2.regions import natural_earth_masks, regional_means, shapefile_masks

ROOT = Path(__file__).resolve().parents[1]
PROCESSING = {"deltat": "month", "nmax": 31, "nmax_flt": 24, "unit": "EWH",
              "components": ["AO", "H", "I", "S"]}  # fmt: skip


def _record(**changes):
    rec = dict(PROCESSING, dataset_components=PROCESSING["components"])
    rec.update(changes)
    return rec


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("deltat", 168, "deltat: the data's 'month', the model's 168"),
        ("nmax", 60, "nmax: the data's 31, the model's 60"),
        ("nmax_flt", 0, "nmax_flt: the data's 24, the model's 0"),
        ("unit", "geoid", "unit: the data's 'EWH', the model's 'geoid'"),
        ("components", ["AO", "HIS"], "components: the data's ['AO', 'H', 'I', 'S']"),
    ],
)
def test_model_data_mismatch_is_refused_naming_it(key, value, fragment):
    check_model(PROCESSING, _record(), "model m")
    rec = _record(**{key: value})
    if key == "components":
        rec["dataset_components"] = value
    with pytest.raises(ValueError, match="refusing to apply model m") as err:
        check_model(PROCESSING, rec, "model m")
    assert fragment in str(err.value)
    with pytest.raises(ValueError, match="does not record its time step"):
        check_model(PROCESSING, _record(deltat=None), "model m")


def test_natural_earth_regions_and_their_means():
    lat, lon = lat_lon(64)
    areas = {"Greenland": {"contains": [72.0, -42.0]},
             "Antarctica": {"box": [-90.0, -60.0, -180.0, 180.0]},
             "Amazon": {"box": [-16.0, 5.0, -80.0, -48.0]}}  # fmt: skip
    masks = natural_earth_masks(lat, lon, areas)
    lat2, lon2 = np.meshgrid(lat, (lon + 180) % 360 - 180, indexing="ij")
    assert masks["Greenland"].sum() > 5 and np.all(lat2[masks["Greenland"]] > 55)
    assert np.all(lat2[masks["Antarctica"]] <= -60) and masks["Antarctica"].sum() > 50
    assert not (masks["Greenland"] & masks["Amazon"]).any()
    cube = np.ones((64, 64, 3)) * np.array([1.0, 2.0, -3.0])
    np.testing.assert_allclose(regional_means(cube, masks["Amazon"], lat), [1.0, 2.0, -3.0])
    # area weights: a field that is cos(lat) on a band has the weighted mean sum(c^2)/sum(c)
    band = masks["Antarctica"]
    w = np.cos(np.deg2rad(lat))[:, None] * band
    field = np.broadcast_to(np.cos(np.deg2rad(lat))[:, None, None], (64, 64, 1))
    assert regional_means(field, band, lat)[0] == pytest.approx((w * field[..., 0]).sum() / w.sum())
    assert np.isnan(regional_means(cube, np.zeros((64, 64), bool), lat)).all()


def test_user_shapefile_regions(tmp_path):
    import shapefile as pyshp

    with pyshp.Writer(str(tmp_path / "basins"), shapeType=pyshp.POLYGON) as w:
        w.field("NAME", "C")
        w.poly([[(10.0, 40.0), (30.0, 40.0), (30.0, 50.0), (10.0, 50.0), (10.0, 40.0)]])
        w.record("box")
    lat, lon = lat_lon(64)
    masks = shapefile_masks(lat, lon, tmp_path / "basins.shp", "NAME")
    lat2, lon2 = np.meshgrid(lat, lon, indexing="ij")
    inside = (lat2 > 40) & (lat2 < 50) & (lon2 > 10) & (lon2 < 30)
    np.testing.assert_array_equal(masks["box"], inside)
    with pytest.raises(ValueError, match="no attribute 'BASIN'"):
        shapefile_masks(lat, lon, tmp_path / "basins.shp", "BASIN")


def test_ensemble_hook():
    one = np.ones((2, 3, 3, 4))
    mean, spread = ensemble([one])
    assert mean is one and spread is None
    mean, spread = ensemble([one, 3 * one])
    np.testing.assert_allclose(mean, 2.0)
    np.testing.assert_allclose(spread, np.sqrt(2.0))


@pytest.fixture
def config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _check(cfg):
    validate(cfg)
    return check(cfg)


def test_default_apply_entry_resolves(config):
    _check(config)
    entry = config["apply"]["demo"]
    assert entry["corrections"]["degree1"]["gm"] == 3.986004415e14
    assert set(entry["regions"]["areas"]) >= {"Greenland", "Antarctica", "Amazon"}
    assert config["demo"]["noise"]["model"] == "grace_like" and config["demo"]["years"] == [1999]


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda c: c["apply"]["demo"].update(model="nope"), "apply.demo.model: 'nope'"),
        (lambda c: c["apply"]["demo"]["processing"].update(nmax_flt=12),
         "apply.demo.processing.nmax_flt: the data's 12 differs from 24 of model monthly"),
        (lambda c: c["apply"]["demo"]["processing"].update(deltat=168),
         "apply.demo.processing.deltat: the data's 168 differs from 'month'"),
        (lambda c: c["demo"].update(years=[1996]), "demo.years: [1996] are training"),
        (lambda c: c["apply"]["demo"]["corrections"]["degree1"].update(frame="CM"),
         "degree 1 is zero in the CM frame"),
        (lambda c: c["apply"]["demo"]["corrections"]["c20"].pop("file"),
         "corrections.c20.file: replace is on"),
        (lambda c: c["apply"]["demo"]["input"].update(source="files"),
         "apply.demo.input.files: no files given"),
        (lambda c: c["apply"]["demo"]["corrections"]["mean"].update(file="m.gfc"),
         "give period or file"),
        (lambda c: c["demo"]["noise"].update(augment=True), "demo.noise.augment:"),
        (lambda c: c["demo"].update(noise={"model": "files"}), "demo.noise.folder:"),
    ],
)  # fmt: skip
def test_apply_config_refusals_name_the_key(config, edit, fragment):
    cfg = copy.deepcopy(config)
    edit(cfg)
    with pytest.raises(ConfigError) as err:
        _check(cfg)
    assert fragment in str(err.value)


def test_demo_noise_has_the_grace_like_variance_of_each_month():
    """Every month's realisation (degree 2 up) has the variance the model gives a window of
    that month's length; degrees 0 and 1 are clean; months and seeds differ."""
    from gravsep.config import _check_demo_noise
    from gravsep.harmonics.noise import coefficient_sigmas
    from gravsep.level2.demo import month_noise, months_of

    cfg = {"demo": {"noise": {"model": "grace_like", "seed": 3}}}
    _check_demo_noise(cfg)  # the schema's defaults filled in
    noise_def = cfg["demo"]["noise"]
    start, end = months_of([1999])
    noise = month_noise(noise_def, 31, start, end)
    assert noise.shape == (12, 2, 32, 32)
    assert np.abs(noise[:, :, :2]).max() == 0.0 and np.abs(noise[:, 1, :, 0]).max() == 0.0
    days = (end - start).astype("timedelta64[s]").astype(float) / 86400.0
    mask = np.tril(np.ones((32, 32), dtype=bool))
    got = expected = 0.0
    for k in range(12):
        sigma = coefficient_sigmas(31, noise_def, days[k])
        for part in (0, 1):
            m = mask.copy()
            if part == 1:
                m[:, 0] = False
            got += (noise[k, part][m] ** 2).sum()
            expected += (np.broadcast_to(sigma[:, None], (32, 32))[m] ** 2).sum()
    assert 0.85 < got / expected < 1.15, got / expected
    # independent draws: months (and seeds) uncorrelated
    assert abs(np.corrcoef(noise[0].ravel(), noise[1].ravel())[0, 1]) < 0.3
    other = month_noise(noise_def | {"seed": 4}, 31, start, end)
    assert abs(np.corrcoef(noise.ravel(), other.ravel())[0, 1]) < 0.3
    assert month_noise(noise_def | {"model": "none"}, 31, start, end) is None
