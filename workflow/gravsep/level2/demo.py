"""The embedded demonstration of the real-data path: a mission-like Level-2 series of its own.

No real GSM files can be shipped, so the default configuration writes a series in the real
formats (rule ``demo_level2``, config section ``demo``) and applies a monthly model to it:

1. The synthetic model (:mod:`gravsep.synthetic.model`, same seed, degree and scales as the
   training data) is built over ``demo.years``, which lie outside the training years. It is
   an instance of its own: the spatial modes are the training data's, the time series are
   drawn for these years alone (not a continuation of the training years' series).
2. The truth: per component and calendar month, the mean of the 6-hourly fields (the monthly
   windows of ``deltat: month``), in the model's constants, as coefficient stores
   ``truth/<COMP>_<YEAR>.h5`` (:mod:`gravsep.formats.store`, kind ``windows``).
3. GSM RL06 files (:mod:`gravsep.formats.gsm`): the sum of the components plus a static
   field (:func:`static_field`), rescaled to GRACE's GM and radius, without degree 0 and 1,
   with C20 and C30 spoiled by ``demo.low_degree_error`` (real GSM C20 is poor), nominal
   sigmas, gzipped as distributed, one per month, with observation noise where ``demo.noise``
   defines one (the noise models of the datasets, :mod:`gravsep.harmonics.noise`; a month's
   realisation for its length in days, :func:`month_noise`).
4. A TN-14 file with the true C20 and C30 of every month (GRACE's constants) and a TN-13 file
   with the true degree 1, written in the CF frame with the Love number it states
   (``demo.love_k1``, 0.021 as the real notes), i.e. the training's degree 1 times
   ``(1 + 0.021) / (1 + 0.027)`` (:mod:`gravsep.level2.frames`).

The GSM files hold the sum of all four components; real GSM lacks the de-aliased atmosphere
and ocean (docs/level2.md).
"""

from pathlib import Path

import numpy as np

from gravsep.constants import GM, R_EARTH
from gravsep.formats.archive import year_epochs
from gravsep.formats.gsm import gsm_name, write_gsm
from gravsep.formats.store import StoreWriter, to_seconds
from gravsep.formats.technotes import write_tn13, write_tn14
from gravsep.harmonics.noise import NoiseSource, active
from gravsep.level2.frames import TRAINING_FRAME, degree1_factor
from gravsep.level2.inputs import rescale
from gravsep.synthetic.model import build_model
from gravsep.timestep import month_edges

#: GRACE's constants (GSM, TN-14), the frame of the files' degree 1.
GRACE_GM, GRACE_R = 3.986004415e14, 6378136.3
#: Mean C20 and C30 of the static field (the TN-14 header's values), GRACE's constants.
MEAN_C20, MEAN_C30 = -4.841694573200e-04, 9.571647583412e-07
#: Seed offsets of the demo's own random numbers (static field, spoiled C20/C30).
STATIC_SEED, ERROR_SEED = 101, 102
#: Names of the technical notes the demonstration writes.
TN13_NAME, TN14_NAME = "TN-13_GEOC_GRAVSEP_DEMO.txt", "TN-14_C30_C20_GRAVSEP_DEMO.txt"


def months_of(years):
    """Starts and ends ``datetime64[s]`` of every calendar month of ``years``."""
    edges = [month_edges(y, y) for y in sorted({int(y) for y in years})]
    return np.concatenate([e[0] for e in edges]), np.concatenate([e[1] for e in edges])


def file_names(years, center="UTCSR", mission="GRAC", flag="BA01", release="0600", gz=True):
    """The GSM file names of the demonstration, one per month."""
    start, end = months_of(years)
    return [gsm_name(s, e, center, mission, flag, release, gz=gz)
            for s, e in zip(start, end, strict=True)]  # fmt: skip


def static_field(nmax, seed):
    """A static gravity field in GRACE's constants: C00 = 1, the mean C20 and C30, and a Kaula
    rule (1e-5 / n^2 per coefficient, fixed random signs) elsewhere from degree 2."""
    rng = np.random.default_rng([int(seed), STATIC_SEED])
    n = np.arange(nmax + 1, dtype=float)
    sd = np.where(n >= 2, 1e-5 / np.maximum(n, 1.0) ** 2, 0.0)
    cs = rng.standard_normal((2, nmax + 1, nmax + 1)) * sd[:, None]
    cs *= np.tril(np.ones((nmax + 1, nmax + 1)))[None]
    cs[1, :, 0] = 0.0
    cs[0, 0, 0], cs[0, 1], cs[1, 1] = 1.0, 0.0, 0.0
    cs[0, 2, 0], cs[0, 3, 0] = MEAN_C20, MEAN_C30
    return cs


def monthly_truth(model, components, years):
    """Per component, the calendar-month means of its 6-hourly fields.

    Returns
    -------
    start, end : numpy.ndarray
        ``(T,)`` ``datetime64[s]``.
    truth : dict
        Component -> ``(T, 2, N+1, N+1)`` dimensionless Stokes coefficients (model constants).
    """
    start, end = months_of(years)
    truth = {c: [] for c in components}
    for year in sorted(int(y) for y in years):
        epochs = year_epochs(year)
        i0 = int(np.searchsorted(model.epochs, epochs[0]))
        month = epochs.astype("datetime64[M]")
        for m in np.unique(month):
            sel = i0 + np.flatnonzero(month == m)
            for comp in components:
                total = 0.0
                for letter in comp:
                    c = model[letter]
                    k = c.modes.shape[0]
                    avg = c.series[sel].mean(axis=0)  # the mean of the fields is linear
                    total = total + (avg @ c.modes.reshape(k, -1)).reshape(c.modes.shape[1:])
                truth[comp].append(total)
    return start, end, {c: np.array(v) for c, v in truth.items()}


def write_truth(folder, start, end, truth):
    """Truth stores ``<folder>/<COMP>_<YEAR>.h5`` (kind ``windows``, model constants)."""
    paths = []
    years = start.astype("datetime64[Y]").astype(int) + 1970
    for comp, cs in truth.items():
        for year in np.unique(years):
            sel = years == year
            path = Path(folder) / f"{comp}_{year}.h5"
            with StoreWriter(path, comp, int(year), cs.shape[-1] - 1, int(sel.sum()), "windows",
                             GM, R_EARTH) as w:  # fmt: skip
                w.write(0, cs[sel], to_seconds(start[sel]))
                w.set_window_ends(to_seconds(end[sel]))
            paths.append(path)
    return paths


def month_noise(noise, nmax, start, end):
    """The observation noise of every month of the GSM files, or None without noise.

    Parameters
    ----------
    noise : dict
        ``demo.noise`` (a dataset noise definition, defaults filled in).
    nmax : int
    start, end : numpy.ndarray
        ``(T,)`` ``datetime64[s]``: the months.

    Returns
    -------
    numpy.ndarray or None
        ``(T, 2, N+1, N+1)`` Stokes coefficients (dimensionless, GRACE's constants: the
        noise is a property of the files); nothing below the model's ``nmin`` (degree 2).
    """
    if not active(noise):
        return None
    source = NoiseSource(noise, nmax)
    return np.array([source.window(int(to_seconds(s)), int(to_seconds(e)), k)
                     for k, (s, e) in enumerate(zip(start, end, strict=True))])  # fmt: skip


def _spoiled(total, errors, rng, nmax):
    """C20 and C30 spoiled by ``errors`` RMS."""
    out = total.copy()
    out[0, 2, 0] += errors * rng.standard_normal()
    if nmax >= 3:
        out[0, 3, 0] += errors * rng.standard_normal()
    return out


def _gsm_files(folder, names, start, end, fields, demo, nmax):
    rng = np.random.default_rng([int(demo.get("seed", 0)), ERROR_SEED])
    n = np.arange(nmax + 1, dtype=float)
    sigma = np.broadcast_to((1e-12 * (1.0 + n / 10.0))[:, None], (2, nmax + 1, nmax + 1))
    noise = month_noise(demo.get("noise") or {"model": "none"}, nmax, start, end)
    for k, (name, s, e, total) in enumerate(zip(names, start, end, fields, strict=True)):
        cs = _spoiled(total, demo.get("low_degree_error", 1e-10), rng, nmax)
        if noise is not None:
            cs = cs + noise[k]
        write_gsm(
            Path(folder) / name, cs, sigma, s, e, GRACE_GM, GRACE_R,
            title="gravsep demonstration GSM (synthetic, NOT REAL DATA)",
            summary="The gravsep synthetic Earth-system model as a GRACE-like monthly field: "
            "AO + H + I + S plus a static field; C20 and C30 spoiled; no degree 0 and 1.",
            institution="gravsep workflow (synthetic demonstration)",
        )  # fmt: skip


def write_demo(shapefile, folder, truth_folder, components, nmax, seed, scale, demo):
    """Write the demonstration's GSM, TN-13 and TN-14 files and its truth stores.

    Parameters
    ----------
    shapefile : path-like
        Natural Earth land polygons of the synthetic model.
    folder, truth_folder : path-like
        Where the Level-2 files and the truth stores go.
    components : list of str
    nmax, seed : int
        Degree and seed of the synthetic model (the training data's).
    scale : dict
        Per-letter amplitude factors (the training data's).
    demo : dict
        The config section ``demo`` (``years``, ``center``, ``mission``, ``flag``,
        ``release``, ``gzip``, ``low_degree_error``, ``noise``, ``love_k1``).

    Returns
    -------
    dict
        ``gsm`` (paths), ``tn13``, ``tn14``, ``truth`` (paths).
    """
    model = build_model(demo["years"], nmax=nmax, seed=seed, scale=scale, shapefile=shapefile)
    start, end, truth = monthly_truth(model, components, demo["years"])
    total_model = sum(truth.values())
    static = static_field(nmax, seed)
    fields = static + rescale(total_model, GM, R_EARTH, GRACE_GM, GRACE_R)
    names = file_names(demo["years"], demo["center"], demo["mission"], demo["flag"],
                       demo["release"], demo["gzip"])  # fmt: skip
    _gsm_files(folder, names, start, end, fields, demo | {"seed": seed}, nmax)
    sig = np.full(len(start), 0.16e-10)
    c30 = fields[:, 0, 3, 0] if nmax >= 3 else np.full(len(start), np.nan)
    tn14 = write_tn14(Path(folder) / TN14_NAME, start, end, fields[:, 0, 2, 0], c30, sig, sig,
                      MEAN_C20, MEAN_C30, GRACE_GM, GRACE_R,
                      title="gravsep demonstration SLR C20 and C30 (synthetic, NOT REAL DATA)",
                      notes=["the true C20 and C30 of the demonstration's months"])  # fmt: skip
    # degree 1 in GRACE's constants and in the convention TN-13 states (k'1 of demo.love_k1)
    d1 = rescale(total_model, GM, R_EARTH, GRACE_GM, GRACE_R)
    d1 = d1 * degree1_factor(TRAINING_FRAME, None, "CF", demo["love_k1"])
    tn13 = write_tn13(Path(folder) / TN13_NAME, start, end, d1[:, 0, 1, 0], d1[:, 0, 1, 1],
                      d1[:, 1, 1, 1], sigma=(4.5e-11, 4.5e-11, 5.1e-11), love_k1=demo["love_k1"],
                      title="gravsep demonstration degree 1 (synthetic, NOT REAL DATA)",
                      notes=["CF frame, the true degree 1 of the demonstration"])  # fmt: skip
    return {"gsm": [Path(folder) / n for n in names], "tn13": tn13, "tn14": tn14,
            "truth": write_truth(truth_folder, start, end, truth)}  # fmt: skip
