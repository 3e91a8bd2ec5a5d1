"""Mapping back to lat-lon-t, evaluation end to end, figures and metrics tables."""

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from gravsep.dataset.sampling import (
    cube_to_samples,
    mix,
    random_mixing,
    read_cube,
    resample_time,
)
from gravsep.evaluation import evaluate as evaluation
from gravsep.evaluation import figures, tables
from gravsep.formats.predictions import PredictionsWriter
from gravsep.formats.samples import Samples, SamplesWriter
from gravsep.formats.training_log import write_training_log as formats_write_training_log
from gravsep.harmonics.grids import lat_lon

COMPONENTS = ["AO", "H", "I"]
SAMPLINGS = ["lat_lon", "lat_t", "t_lon"]
NATURAL_EARTH = Path(__file__).resolve().parents[1] / "resources" / "natural_earth"
PNG = b"\x89PNG\r\n\x1a\n"


def fake_cubes(years, dim=8, numt=6, seed=0):
    """Smooth-ish random cubes ``(C, dim, dim, numt)`` [m] per year."""
    rng = np.random.default_rng(seed)
    lat, lon = lat_lon(dim)
    t = np.arange(numt)
    out = {}
    for year in years:
        comps = []
        for c, amp in enumerate([0.05, 0.02, 0.1]):
            phase = rng.uniform(0, 2 * np.pi)
            field = (
                np.cos(np.deg2rad(lat))[:, None, None] ** (c + 1)
                * np.sin(np.deg2rad(lon) * (c + 1) + phase)[None, :, None]
                * np.cos(2 * np.pi * t / numt + c)[None, None, :]
            )
            comps.append(amp * (field + 0.1 * rng.standard_normal(field.shape)))
        out[year] = np.stack(comps).astype(np.float32)
    return out


def write_dataset(path, cubes, sampling="lat_lon", split=None, g=None, g_pinv=None):
    """Dataset file (:mod:`gravsep.formats.samples`) from window cubes."""
    split = split or {"train": [2000, 2001], "validation": [2002], "test": [2003]}
    first = next(iter(cubes.values()))
    dim = first.shape[1]
    lat, lon = lat_lon(dim)
    split = {f"{name}_years": years for name, years in split.items()}
    with SamplesWriter(path, components=COMPONENTS, sampling=sampling, lat=lat, lon=lon,
                       split=split, dtype=np.float32, g=g, g_pinv=g_pinv) as w:  # fmt: skip
        for year, cube in cubes.items():
            numt = cube.shape[-1]
            target = cube_to_samples(resample_time(cube, dim), sampling)
            if g is not None:
                target = mix(target, g)
            inp, tgt = w.add_year(year, numt)
            tgt[...] = target.astype(np.float32)
            inp[...] = target.sum(axis=-1).astype(np.float32)
            start = np.datetime64(f"{year}-01-04T12", "s").astype(np.int64)
            w.set_times(year, start + 7 * 86400 * np.arange(numt, dtype=np.int64))


def write_predictions(path, dataset, noise=0.1, seed=1, years=None):
    """Predictions = targets + relative noise, for the years of ``dataset``."""
    rng = np.random.default_rng(seed)
    with Samples(dataset) as s:
        split = {f"{k}_years": s.split_years(k) for k in ("train", "validation", "test")}
        with PredictionsWriter(path, components=s.components, sampling=s.sampling,
                               model="test", inference_mode="deterministic", batch_size=1,
                               split=split) as w:  # fmt: skip
            for year in years or s.years:
                t = s.read(year)[1]
                scale = np.sqrt(np.mean(t**2, axis=(0, 1, 2)))
                p = t + noise * scale * rng.standard_normal(t.shape)
                w.add_year(year, s.numt(year), p.astype(np.float32))


def write_training_log(path, epochs=7, best=5):
    rng = np.random.default_rng(3)
    decay = np.exp(-np.arange(epochs) / 3.0)
    history = {"loss": 1.0 + decay, "val_loss": 1.1 + decay + 0.05 * rng.random(epochs)}
    for s in ("train", "validation", "test"):
        history[f"rms_{s}"] = 0.01 * (1 + decay[:, None] * rng.random((epochs, 3)))
    formats_write_training_log(
        path, history, best_epoch=best, stopped_epoch=epochs, components=COMPONENTS,
        early_stopping="validation_year", min_epochs=0, patience=epochs,
    )  # fmt: skip


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_read_cube_identity(sampling):
    cube = np.random.default_rng(0).standard_normal((3, 8, 8, 8)).astype(np.float32)
    samples = cube_to_samples(cube, sampling)
    np.testing.assert_array_equal(read_cube(samples, sampling, 8, chunk=3), cube)
    np.testing.assert_array_equal(read_cube(samples[..., 1], sampling, 8, chunk=5), cube[1])


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_read_cube_resamples_time(sampling):
    cube = np.random.default_rng(1).standard_normal((2, 8, 8, 8)).astype(np.float32)
    samples = cube_to_samples(cube, sampling)
    got = read_cube(samples, sampling, 5, chunk=3)
    np.testing.assert_allclose(got, resample_time(cube, 5), rtol=1e-5, atol=1e-6)
    # windows -> network steps -> windows is exact at the end points
    windows = np.random.default_rng(2).standard_normal((2, 8, 8, 5)).astype(np.float32)
    back = read_cube(cube_to_samples(resample_time(windows, 8), sampling), sampling, 5)
    np.testing.assert_allclose(back[..., [0, -1]], windows[..., [0, -1]], rtol=1e-5, atol=1e-6)


def test_read_cube_unmixes():
    cube = np.random.default_rng(3).standard_normal((2, 8, 8, 8)).astype(np.float32)
    g, g_pinv = random_mixing(8, 16, seed=4)
    mixed = mix(cube_to_samples(cube, "t_lon"), g)
    got = read_cube(mixed, "t_lon", 8, g_pinv=g_pinv, chunk=5)
    np.testing.assert_allclose(got, cube, rtol=1e-4, atol=1e-5)


def test_is_global():
    lat, lon = lat_lon(16)
    assert evaluation.is_global(lat, lon)
    assert not evaluation.is_global(lat[4:12], lon[4:12])


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    cubes = fake_cubes([2000, 2001, 2002, 2003])
    write_dataset(tmp / "samples.h5", cubes, "lat_t")
    write_predictions(tmp / "predictions.h5", tmp / "samples.h5")
    write_training_log(tmp / "training_log.h5")
    df = evaluation.evaluate(
        tmp / "samples.h5",
        tmp / "predictions.h5",
        tmp / "evaluation.h5",
        tmp / "metrics.csv",
        "tiny",
        training_log=tmp / "training_log.h5",
    )
    return tmp, cubes, df


def test_evaluate_csv(evaluated):
    tmp, _, df = evaluated
    read = pd.read_csv(tmp / "metrics.csv")
    assert list(read.columns) == evaluation.CSV_COLUMNS
    # splits x methods x (components + sum)
    assert len(read) == 2 * (len(evaluation.BASELINES) + 1) * (len(COMPONENTS) + 1)
    assert set(read["method"]) == {"unet", *evaluation.BASELINES}
    assert set(read["split"]) == {"validation", "test"}
    assert set(read["year"]) == {2002, 2003}
    assert set(read["component"]) == set(COMPONENTS) | {"sum"}
    assert (read["model"] == "tiny").all()
    zero = read[(read["method"] == "zero")]
    np.testing.assert_allclose(zero["rel_rms"], 1.0, rtol=1e-5)
    prop_sum = read[(read["method"] == "proportional") & (read["component"] == "sum")]
    np.testing.assert_allclose(prop_sum["rel_rms"], 0.0, atol=1e-5)
    unet = read[(read["method"] == "unet") & (read["component"] != "sum")]
    assert (unet["rel_rms"] < 0.3).all()
    assert tables.unet_beats_baselines(read) == []


def test_evaluate_hdf5(evaluated):
    tmp, cubes, _ = evaluated
    n, c = 8, len(COMPONENTS)
    with h5py.File(tmp / "evaluation.h5", "r") as f:
        assert list(f.attrs["components"]) == COMPONENTS
        assert list(f.attrs["labels"]) == COMPONENTS + ["sum"]
        assert f.attrs["model"] == "tiny"
        assert f.attrs["year"] == 2003
        assert f.attrs["epoch_index"] == 3
        assert f.attrs["best_epoch"] == 5
        assert bool(f.attrs["global"])
        assert f["time"].shape == (6,)
        assert f.attrs["epoch_time"] == f["time"][3]
        for kind in ("truth", "prediction", "error"):
            assert f[f"profiles/lat/{kind}"].shape == (c + 1, n)
            assert f[f"profiles/lon/{kind}"].shape == (c + 1, n)
            assert f[f"profiles/time/{kind}"].shape == (c + 1, 6)
            assert f[f"maps/{kind}"].shape == (c, n, n)
            assert f[f"degree_amplitudes/{kind}"].shape == (c + 1, n // 2)
        back = resample_time(resample_time(cubes[2003], n), 6)  # windows -> steps -> windows
        np.testing.assert_allclose(f["maps/truth"][()], back[..., 3], atol=1e-6)
        np.testing.assert_allclose(
            f["maps/error"][()], f["maps/prediction"][()] - f["maps/truth"][()], atol=1e-6
        )
        assert f["relative_rms/zero"][()] == pytest.approx([1.0] * (c + 1), rel=1e-5)
        assert f["component_errors/pair_rms"].shape == (c, c)
        assert f["component_errors/pair_normalised"].shape == (c, c)
        labels = [s.decode() for s in f["component_errors/subset_labels"][()]]
        assert labels == ["AO", "H", "I", "AO+H", "AO+I", "H+I", "AO+H+I"]
        np.testing.assert_allclose(
            np.diag(f["component_errors/pair_rms"][()]), f["component_errors/subset_rms"][:3]
        )


def test_evaluate_regional_and_mismatch(tmp_path):
    cubes = fake_cubes([2000, 2003], numt=4)
    write_dataset(tmp_path / "s.h5", cubes, "t_lon", {"train": [2000], "test": [2003]})
    with h5py.File(tmp_path / "s.h5", "a") as f:  # pretend it is a regional cut-out
        f["lat"][...] = np.linspace(70, 50, 8)
    write_predictions(tmp_path / "p.h5", tmp_path / "s.h5")
    df = evaluation.evaluate(
        tmp_path / "s.h5", tmp_path / "p.h5", tmp_path / "e.h5", tmp_path / "m.csv", "reg"
    )
    assert set(df["split"]) == {"test"}
    with h5py.File(tmp_path / "e.h5", "r") as f:
        assert not f.attrs["global"]
        assert "degree_amplitudes" not in f
    figures.degree_amplitudes(tmp_path / "e.h5", tmp_path / "deg.png")
    assert (tmp_path / "deg.png").read_bytes()[:8] == PNG
    with h5py.File(tmp_path / "s.h5", "a") as f:
        f["lon"][...] = np.linspace(220, 300, 8)
    evaluation.evaluate(
        tmp_path / "s.h5", tmp_path / "p.h5", tmp_path / "e.h5", tmp_path / "m.csv", "reg"
    )
    figures.maps(tmp_path / "e.h5", tmp_path / "maps.png", NATURAL_EARTH)
    assert (tmp_path / "maps.png").read_bytes()[:8] == PNG
    with h5py.File(tmp_path / "p.h5", "a") as f:
        f.attrs["components"] = ["X", "Y", "Z"]
    with pytest.raises(ValueError, match="components"):
        evaluation.evaluate(
            tmp_path / "s.h5", tmp_path / "p.h5", tmp_path / "e.h5", tmp_path / "m.csv", "reg"
        )


def test_figures_render(evaluated):
    tmp, _, _ = evaluated
    outputs = {name: tmp / "figures" / f"{name}.png" for name in figures.FIGURES}
    figures.all_figures(
        tmp / "evaluation.h5",
        tmp / "training_log.h5",
        outputs,
        natural_earth=NATURAL_EARTH,
        model="tiny",
    )
    for path in outputs.values():
        data = path.read_bytes()
        assert data[:8] == PNG, path
        assert len(data) > 20_000, path


def test_tables(evaluated, tmp_path):
    tmp, _, df = evaluated
    bad = df.copy()
    bad["model"] = "bad"
    bad.loc[bad["method"] == "unet", "rel_rms"] = 1.5
    bad.to_csv(tmp_path / "bad.csv", index=False)
    merged = tables.write_tables(
        [tmp / "metrics.csv", tmp_path / "bad.csv"], tmp_path / "all.csv", tmp_path / "all.html"
    )
    assert len(merged) == 2 * len(df)
    assert list(pd.read_csv(tmp_path / "all.csv").columns) == evaluation.CSV_COLUMNS
    page = (tmp_path / "all.html").read_text()
    assert "<table" in page and "proportional" in page and "validation" in page
    table = tables.pivot(merged, "test")
    assert list(table.columns)[0] == "unet"
    assert table.index.names == ["model", "input_noise", "component"]
    assert table.loc[("tiny", "none", "AO"), "zero"] == pytest.approx(1.0, rel=1e-5)
    assert list(table.loc[("tiny", "none")].index)[-1] == "sum"
    failures = tables.unet_beats_baselines(merged, split="test")
    assert len(failures) == len(evaluation.BASELINES) * len(COMPONENTS)
    assert all("model bad" in line for line in failures)
    assert tables.unet_beats_baselines(merged, split="nothing") == [
        "no metrics for split 'nothing'"
    ]
