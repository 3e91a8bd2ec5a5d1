"""The synthetic, deterministic stand-in for the ESA Earth System Model (ESM): its data.

The model has the five letters of the ESM (A atmosphere, O ocean, H hydrology, I ice,
S solid Earth) and 6-hourly epochs (00, 06, 12, 18 UTC) over whole calendar years; it is
written in the exact archive layout of the real data by :mod:`gravsep.synthetic.archives`,
so the pipeline ingests synthetic and real data the same way. ``docs/synthetic-model.md``
describes the physics; in short:

Every letter is a sum of K spatial modes times time series over all epochs of the period,
``cs(t) = sum_k a_k(t) P_k``. A mode is built as a field of equivalent water height (EWH)
[m] on a Driscoll-Healy grid of ``4*(nmax+1)`` points (random fields with a power-law degree
spectrum, masked by the Natural Earth land/ocean/ice masks; :mod:`gravsep.synthetic.components`),
analysed to degree ``nmax``, its degree 0 set to zero and converted to dimensionless Stokes
coefficients. The time series are dimensionless (AR(1) processes, harmonics, trends, steps).

Everything derives from one integer seed: the random numbers of letter ``C`` come from
``numpy.random.default_rng(SeedSequence(seed, spawn_key=(i, j)))`` with ``i`` the index of
the letter in ``AOHIS`` and ``j`` 0 (spatial patterns), 1 (time series) or 2 (event
catalogue), so one letter's content does not depend on which other letters exist.

This module owns the model file (``results/synthetic/model.h5``, :func:`save_model`,
:func:`load_model`). Its HDF5 layout:

- root attributes ``seed`` (int), ``nmax`` (int), ``years`` (int64 array), ``version``
  (:data:`MODEL_VERSION`) and ``description`` (text);
- dataset ``epochs``: ``(T_all,)`` int64 seconds since 1970-01-01 UTC, every epoch of the
  period;
- one group per letter with datasets ``modes`` ``(K, 2, N+1, N+1)``
  (dimensionless Stokes coefficients, pyshtools cilm layout) and ``series`` ``(T_all, K)``
  (dimensionless, scale applied), and attributes ``names`` (``K`` strings), ``scale``
  (float) and ``description`` (the letter's name).

Datasets are written without time stamps; the groups still carry HDF5's modification times,
so two writes of the same model have the same content but not the same bytes.
"""

import functools
from dataclasses import dataclass, field

import numpy as np

from gravsep.atomic import atomic_output
from gravsep.constants import EPOCH_HOURS, LETTERS
from gravsep.formats.archive import year_epochs
from gravsep.harmonics.grids import synthesize
from gravsep.harmonics.units import stokes_to_ewh
from gravsep.synthetic.components import Grid, letter_fields

#: Letters of the model, in the order that fixes their random streams.
LETTER_ORDER = "AOHIS"
#: Default maximum degree.
DEFAULT_NMAX = 31
#: Version of the model definition, stored in the HDF5 file.
MODEL_VERSION = 1

_STEPS_PER_DAY = 24 // EPOCH_HOURS


# --------------------------------------------------------------------------------------------
# containers


@dataclass
class Component:
    """One letter of the model.

    Attributes
    ----------
    letter : str
    modes : numpy.ndarray
        ``(K, 2, N+1, N+1)`` spatial modes, dimensionless Stokes coefficients.
    series : numpy.ndarray
        ``(T_all, K)`` dimensionless time series over all epochs of the model.
    names : tuple of str
        ``(K,)`` short names of the modes (e.g. ``seasonal_cos``, ``trend_greenland``).
    scale : float
        Amplitude factor already applied to ``series`` (config ``synthetic.scale``).
    """

    letter: str
    modes: np.ndarray
    series: np.ndarray
    names: tuple
    scale: float = 1.0


@dataclass
class SyntheticModel:
    """The synthetic model: epochs and one :class:`Component` per letter.

    Attributes
    ----------
    seed : int
    nmax : int
    years : tuple of int
        The configured years; ``epochs`` covers every 6-hourly epoch from 1 January of the
        first to 31 December 18 UTC of the last (years in between included).
    epochs : numpy.ndarray
        ``(T_all,)`` ``datetime64[s]``.
    components : dict
        Letter -> :class:`Component`.
    """

    seed: int
    nmax: int
    years: tuple
    epochs: np.ndarray
    components: dict = field(default_factory=dict)

    def __getitem__(self, letter):
        return self.components[letter]


# --------------------------------------------------------------------------------------------
# public API


def model_epochs(years):
    """All 6-hourly epochs from 1 January of ``min(years)`` to the end of ``max(years)``."""
    years = [int(y) for y in years]
    start = np.datetime64(f"{min(years):04d}-01-01T00:00:00", "s")
    end = np.datetime64(f"{max(years) + 1:04d}-01-01T00:00:00", "s")
    return np.arange(start, end, np.timedelta64(EPOCH_HOURS, "h"))


def _rng(seed, letter, stream):
    """Random generator of stream ``stream`` (0, 1, 2) of ``letter`` (module docstring)."""
    ss = np.random.SeedSequence(int(seed), spawn_key=(LETTER_ORDER.index(letter), stream))
    return np.random.default_rng(ss)


def build_model(years, nmax=DEFAULT_NMAX, seed=0, scale=None, shapefile=None, letters=None):
    """Build the synthetic model.

    Parameters
    ----------
    years : iterable of int
        Calendar years; the model covers every 6-hourly epoch from the first to the last.
    nmax : int
        Maximum spherical-harmonic degree (>= 2).
    seed : int
        The one seed from which everything derives.
    scale : dict, optional
        Letter -> factor on that letter's amplitude (default 1 for every letter).
    shapefile : path-like, optional
        Natural Earth land polygons (default: the shipped 1:110m file).
    letters : iterable of str, optional
        Subset of ``AOHIS`` to build (default all); a letter's content does not depend on
        which others are built.

    Returns
    -------
    SyntheticModel
    """
    years = tuple(sorted({int(y) for y in years}))
    if not years:
        raise ValueError("no years given")
    nmax = int(nmax)
    if not 2 <= nmax <= 180:
        raise ValueError(f"nmax must be between 2 and 180, got {nmax}")
    letters = LETTER_ORDER if letters is None else "".join(letters)
    unknown = set(letters) - set(LETTER_ORDER)
    if unknown:
        raise ValueError(f"unknown letters {sorted(unknown)}; expected some of {LETTER_ORDER}")
    scale = dict(scale or {})
    bad = set(scale) - set(LETTER_ORDER)
    if bad:
        raise ValueError(f"scale names unknown letters {sorted(bad)}")
    grid = Grid(nmax, shapefile)
    epochs = model_epochs(years)
    model = SyntheticModel(seed=int(seed), nmax=nmax, years=years, epochs=epochs)
    for letter in LETTER_ORDER:
        if letter not in letters:
            continue
        rng = functools.partial(_rng, seed, letter)
        fields, series, names, smooth = letter_fields(letter, grid, rng, epochs)
        factor = float(scale.get(letter, 1.0))
        model.components[letter] = Component(
            letter=letter,
            modes=grid.to_stokes(fields, smooth),
            series=np.ascontiguousarray(series * factor),
            names=tuple(names),
            scale=factor,
        )
    return model


def save_model(model, path):
    """Write the model to HDF5 in the layout of the module docstring.

    Root attributes ``seed``, ``nmax``, ``years``, ``version``, ``description``; dataset
    ``epochs`` (int64 seconds since 1970); per letter a group with ``modes``
    ``(K, 2, N+1, N+1)`` (dimensionless Stokes), ``series`` ``(T_all, K)`` (dimensionless)
    and attributes ``names``, ``scale``, ``description``. Written under a temporary name and
    renamed when complete.

    Parameters
    ----------
    model : SyntheticModel
    path : path-like
        The ``.h5`` file to write.
    """
    import h5py

    with atomic_output(path) as tmp, h5py.File(tmp, "w", track_order=True) as h5:
        h5.attrs["seed"] = int(model.seed)
        h5.attrs["nmax"] = int(model.nmax)
        h5.attrs["years"] = np.asarray(model.years, dtype=np.int64)
        h5.attrs["version"] = MODEL_VERSION
        h5.attrs["description"] = (
            "synthetic ESA-ESM-like model (gravsep.synthetic): cs(t) = series(t) @ modes, "
            "modes are dimensionless Stokes coefficients (pyshtools cilm layout)"
        )
        h5.create_dataset(
            "epochs", data=model.epochs.astype("datetime64[s]").astype(np.int64),
            track_times=False,
        )  # fmt: skip
        for letter, comp in model.components.items():
            g = h5.create_group(letter)
            g.attrs["description"] = LETTERS[letter]
            g.attrs["scale"] = float(comp.scale)
            g.attrs["names"] = list(comp.names)
            g.create_dataset("modes", data=comp.modes, track_times=False)
            g.create_dataset("series", data=comp.series, track_times=False)


def load_model(path):
    """Read a model written by :func:`save_model`; returns a :class:`SyntheticModel`."""
    import h5py

    with h5py.File(path, "r") as h5:
        model = SyntheticModel(
            seed=int(h5.attrs["seed"]),
            nmax=int(h5.attrs["nmax"]),
            years=tuple(int(y) for y in h5.attrs["years"]),
            epochs=h5["epochs"][()].astype("datetime64[s]"),
        )
        for letter in LETTER_ORDER:
            if letter not in h5:
                continue
            g = h5[letter]
            model.components[letter] = Component(
                letter=letter,
                modes=g["modes"][()],
                series=g["series"][()],
                names=tuple(str(n) for n in g.attrs["names"]),
                scale=float(g.attrs["scale"]),
            )
    return model


def _year_index(model, year):
    epochs = year_epochs(year)
    i0 = np.searchsorted(model.epochs, epochs[0])
    if i0 + epochs.size > model.epochs.size or model.epochs[i0] != epochs[0]:
        raise ValueError(
            f"year {year} is outside the model ({model.epochs[0]} .. {model.epochs[-1]})"
        )
    return epochs, slice(i0, i0 + epochs.size)


def epoch_coefficients(model, letter, year, unit="stokes"):
    """Coefficients of one letter at every epoch of one year.

    Parameters
    ----------
    model : SyntheticModel
    letter : str
    year : int
    unit : {"stokes", "ewh"}
        Dimensionless Stokes coefficients, or EWH coefficients [m].

    Returns
    -------
    epochs : numpy.ndarray
        ``(T,)`` ``datetime64[s]`` (1460 or 1464 epochs).
    cs : numpy.ndarray
        ``(T, 2, N+1, N+1)``.
    """
    comp = model.components[letter]
    epochs, sel = _year_index(model, year)
    k = comp.modes.shape[0]
    cs = (comp.series[sel] @ comp.modes.reshape(k, -1)).reshape((-1,) + comp.modes.shape[1:])
    if unit == "ewh":
        cs = stokes_to_ewh(cs)
    elif unit != "stokes":
        raise ValueError(f"unit must be 'stokes' or 'ewh', got {unit!r}")
    return epochs, cs


def grid_modes(model, letter, dim=None):
    """Modes of a letter as EWH grids ``(K, dim, dim)`` [m] (default dim ``4*(nmax+1)``)."""
    dim = 4 * (model.nmax + 1) if dim is None else int(dim)
    return synthesize(stokes_to_ewh(model.components[letter].modes), dim)


def summary(model, year=None):
    """RMS amplitudes of every letter in EWH [m] (global, area-weighted, via Parseval).

    Returns
    -------
    dict
        Letter -> dict with ``rms`` (over space and all epochs of ``year``, default the first
        year), ``rms_about_year_mean`` (after removing that year's mean field) and
        ``rms_weekly_about_year_mean`` (7-day means, as the pipeline sees them).
    """
    year = model.years[0] if year is None else int(year)
    out = {}
    for letter in model.components:
        _, cs = epoch_coefficients(model, letter, year, unit="ewh")
        flat = cs.reshape(cs.shape[0], -1)
        anom = flat - flat.mean(axis=0)
        nweek = flat.shape[0] // (7 * _STEPS_PER_DAY)
        weekly = flat[: nweek * 7 * _STEPS_PER_DAY].reshape(nweek, 7 * _STEPS_PER_DAY, -1)
        weekly = weekly.mean(axis=1)
        weekly -= weekly.mean(axis=0)
        out[letter] = {
            "rms": float(np.sqrt((flat**2).sum(axis=1).mean())),
            "rms_about_year_mean": float(np.sqrt((anom**2).sum(axis=1).mean())),
            "rms_weekly_about_year_mean": float(np.sqrt((weekly**2).sum(axis=1).mean())),
        }
    return out


def mode_shares(model, letter, year, nmax=None, days=7):
    """Relative RMS of each mode of a letter in that letter's field, as the pipeline sees it.

    The field and each mode's part of it are taken as ``days``-day means over ``year`` with the
    year's mean removed and truncated at degree ``nmax`` (the dataset's ``nmax_flt``);
    RMS area-weighted over the sphere (Parseval on the EWH coefficients). A share is what a
    separation that is exact except for that mode would leave as its relative error (e.g.
    for an earthquake of the test year that no training year holds).

    Parameters
    ----------
    model : SyntheticModel
    letter : str
    year : int
    nmax : int, optional
        Truncation degree; default the model's.
    days : int
        Window length [days].

    Returns
    -------
    dict
        Mode name -> RMS(mode's part) / RMS(letter's field) [dimensionless].
    """
    comp = model.components[letter]
    nmax = model.nmax if nmax is None else int(nmax)
    _, sel = _year_index(model, year)
    steps = int(days) * _STEPS_PER_DAY
    a = comp.series[sel]
    n_win = a.shape[0] // steps
    a = a[: n_win * steps].reshape(n_win, steps, -1).mean(axis=1)
    a = a - a.mean(axis=0)
    modes = stokes_to_ewh(comp.modes)[:, :, : nmax + 1, : nmax + 1].reshape(len(comp.names), -1)
    total = float(((a @ modes) ** 2).sum())
    if total <= 0:
        raise ValueError(f"letter {letter} has no signal in {year}")
    power = (a**2).sum(axis=0) * (modes**2).sum(axis=1)
    return {name: float(np.sqrt(p / total)) for name, p in zip(comp.names, power, strict=True)}
